"""One date format everywhere in the admin: ISO 8601 order, 24-hour clock, the time zone
named (``TIME_ZONE``, UTC by default): ``2026-11-25 15:07:29 UTC``.

Django's own English formats (``Nov. 25, 2026, 3:07 p.m.``) name no time zone; this module
(``FORMAT_MODULE_PATH``) replaces them for every date the admin renders.
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
