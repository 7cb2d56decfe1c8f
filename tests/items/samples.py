"""One realistic item per type of the Conversations item union, as the ``openai`` SDK sends it
(field names and shapes from ``openai/types/responses/response_input_item_param.py``), each
with every governed ``include`` field it can carry and a field no SDK knows today
(``x_future``), which must be kept too."""

IMAGE = "data:image/png;base64,iVBORw0KGgo="

SAMPLES = {
    "message_user": {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "What is in this image and file?"},
            {"type": "input_image", "image_url": IMAGE, "detail": "low"},
            {"type": "input_file", "file_data": "data:text/plain;base64,aGk=", "filename": "a.txt"},
        ],
        "x_future": {"kept": True},
    },
    "message_assistant": {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "phase": "final_answer",
        "content": [
            {
                "type": "output_text",
                "text": "A cat.",
                "annotations": [
                    {
                        "type": "url_citation",
                        "url": "https://e.test",
                        "title": "t",
                        "start_index": 0,
                        "end_index": 5,
                    }
                ],
                "logprobs": [{"token": "A", "logprob": -0.1, "bytes": [65], "top_logprobs": []}],
            },
            {"type": "refusal", "refusal": "No more."},
        ],
    },
    "message_system": {
        "type": "message",
        "role": "system",
        "content": [{"type": "input_text", "text": "Be brief."}],
    },
    "message_developer": {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "Use tools."}],
    },
    "function_call": {
        "type": "function_call",
        "call_id": "call_abc",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
        "status": "completed",
        "namespace": "weather",
        "x_future": 1,
    },
    "function_call_output": {
        "type": "function_call_output",
        "call_id": "call_abc",
        "output": [{"type": "input_text", "text": "18C"}],
        "status": "completed",
    },
    "reasoning": {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Think about the weather."}],
        "content": [{"type": "reasoning_text", "text": "raw"}],
        "encrypted_content": "gAAAAB-opaque",
        "status": "completed",
    },
    "custom_tool_call": {
        "type": "custom_tool_call",
        "call_id": "call_ctc",
        "name": "apply_patch",
        "input": "*** Begin Patch\n*** End Patch",
    },
    "custom_tool_call_output": {
        "type": "custom_tool_call_output",
        "call_id": "call_ctc",
        "output": "Done.",
    },
    "web_search_call": {
        "type": "web_search_call",
        "status": "completed",
        "action": {
            "type": "search",
            "query": "weather paris",
            "sources": [{"type": "url", "url": "https://e.test/w"}],
        },
    },
    "file_search_call": {
        "type": "file_search_call",
        "status": "completed",
        "queries": ["refund policy"],
        "results": [
            {
                "file_id": "file_1",
                "filename": "p.pdf",
                "score": 0.5,
                "text": "30 days",
                "attributes": {"lang": "en"},
            }
        ],
    },
    "computer_call": {
        "type": "computer_call",
        "call_id": "call_cu",
        "status": "completed",
        "pending_safety_checks": [
            {"id": "sc_1", "code": "malicious_instructions", "message": "careful"}
        ],
        "action": {"type": "click", "button": "left", "x": 10, "y": 20},
    },
    "computer_call_output": {
        "type": "computer_call_output",
        "call_id": "call_cu",
        "status": "completed",
        "output": {"type": "computer_screenshot", "image_url": IMAGE},
        "acknowledged_safety_checks": [
            {"id": "sc_1", "code": "malicious_instructions", "message": "careful"}
        ],
    },
    "code_interpreter_call": {
        "type": "code_interpreter_call",
        "status": "completed",
        "container_id": "cntr_1",
        "code": "print(1+1)",
        "outputs": [{"type": "logs", "logs": "2\n"}],
    },
    "image_generation_call": {
        "type": "image_generation_call",
        "status": "completed",
        "result": "iVBORw0KGgo=",
    },
    "local_shell_call": {
        "type": "local_shell_call",
        "call_id": "call_lsh",
        "status": "completed",
        "action": {
            "type": "exec",
            "command": ["ls", "-la"],
            "env": {"A": "1"},
            "timeout_ms": 1000,
            "working_directory": "/tmp",
        },
    },
    "local_shell_call_output": {
        "type": "local_shell_call_output",
        "output": '{"stdout":"a.txt"}',
        "status": "completed",
    },
    "shell_call": {
        "type": "shell_call",
        "call_id": "call_sh",
        "status": "completed",
        "action": {"commands": ["ls"], "timeout_ms": 1000, "max_output_length": 4096},
    },
    "shell_call_output": {
        "type": "shell_call_output",
        "call_id": "call_sh",
        "status": "completed",
        "output": [
            {"stdout": "a.txt\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}
        ],
        "max_output_length": 4096,
    },
    "apply_patch_call": {
        "type": "apply_patch_call",
        "call_id": "call_apc",
        "status": "completed",
        "operation": {"type": "update_file", "path": "README.md", "diff": "@@\n-a\n+b\n"},
    },
    "apply_patch_call_output": {
        "type": "apply_patch_call_output",
        "call_id": "call_apc",
        "status": "completed",
        "output": "Updated README.md",
    },
    "mcp_list_tools": {
        "type": "mcp_list_tools",
        "server_label": "deepwiki",
        "tools": [{"name": "ask", "input_schema": {"type": "object"}, "description": "Ask."}],
    },
    "mcp_approval_request": {
        "type": "mcp_approval_request",
        "server_label": "deepwiki",
        "name": "ask",
        "arguments": '{"q":"x"}',
    },
    "mcp_approval_response": {
        "type": "mcp_approval_response",
        "approval_request_id": "mcpr_1",
        "approve": True,
        "reason": "fine",
    },
    "mcp_call": {
        "type": "mcp_call",
        "server_label": "deepwiki",
        "name": "ask",
        "arguments": '{"q":"x"}',
        "output": "answer",
        "error": None,
        "status": "completed",
    },
    "compaction": {"type": "compaction", "encrypted_content": "gAAAA-compacted"},
    "tool_search_call": {
        "type": "tool_search_call",
        "arguments": {"query": "weather"},
        "status": "completed",
        "execution": "server",
    },
    "tool_search_output": {
        "type": "tool_search_output",
        "tools": [],
        "status": "completed",
        "execution": "server",
    },
    "additional_tools": {"type": "additional_tools", "role": "developer", "tools": []},
    "configuration_update": {"type": "configuration_update", "reasoning": {"effort": "low"}},
    "program": {
        "type": "program",
        "call_id": "call_prg",
        "code": "text(1)",
        "fingerprint": "fp",
    },
    "program_output": {
        "type": "program_output",
        "call_id": "call_prg",
        "result": "1",
        "status": "completed",
    },
}

#: The id prefix issued for each sample's type.
PREFIXES = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "reasoning": "rs_",
    "custom_tool_call": "ctc_",
    "custom_tool_call_output": "ctco_",
    "web_search_call": "ws_",
    "file_search_call": "fs_",
    "computer_call": "cu_",
    "computer_call_output": "cuo_",
    "code_interpreter_call": "ci_",
    "image_generation_call": "ig_",
    "local_shell_call": "lsh_",
    "local_shell_call_output": "lsho_",
    "shell_call": "sh_",
    "shell_call_output": "sho_",
    "apply_patch_call": "apc_",
    "apply_patch_call_output": "apco_",
    "mcp_list_tools": "mcpl_",
    "mcp_approval_request": "mcpr_",
    "mcp_approval_response": "mcpa_",
    "mcp_call": "mcp_",
    "compaction": "cmp_",
    "tool_search_call": "tsc_",
    "tool_search_output": "tso_",
    "additional_tools": "adt_",
    "configuration_update": "cfg_",
    "program": "prg_",
    "program_output": "prgo_",
}

#: include value → (item type, path of the governed field) — what the tests strip.
GOVERNED = {
    "message.output_text.logprobs": ("message", "content", "output_text", "logprobs"),
    "message.input_image.image_url": ("message", "content", "input_image", "image_url"),
    "reasoning.encrypted_content": ("reasoning", "encrypted_content"),
    "file_search_call.results": ("file_search_call", "results"),
    "web_search_call.action.sources": ("web_search_call", "action", "sources"),
    "computer_call_output.output.image_url": ("computer_call_output", "output", "image_url"),
    "code_interpreter_call.outputs": ("code_interpreter_call", "outputs"),
}
