"""``tools/mutation.py`` (``make mutation``) writes mutmut's settings for a run."""

import configparser
import sys

from tests.ops.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import mutation  # noqa: E402  (tools/ is not a package)


def test_the_run_s_settings_name_modules_tests_and_the_tests_left_out(tmp_path):
    path = mutation.write_config(
        ["conversations/webhooks/leases.py"],
        ["tests/webhooks/test_outbox.py", "tests/webhooks/test_delivery_order.py"],
        ["tests/webhooks/test_delivery_order.py::test_two_workers"],
        root=tmp_path,
    )
    config = configparser.ConfigParser()
    config.read(path)
    section = config["mutmut"]
    assert section["only_mutate"].split() == ["conversations/webhooks/leases.py"]
    assert section["pytest_add_cli_args_test_selection"].split() == [
        "tests/webhooks/test_outbox.py",
        "tests/webhooks/test_delivery_order.py",
        "--deselect=tests/webhooks/test_delivery_order.py::test_two_workers",
    ]
    assert section["source_paths"] == "conversations"
    assert section["process_isolation"] == "forkserver"  # children never inherit test threads
