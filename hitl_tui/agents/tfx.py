"""The tframex names this package uses, imported only after its logging is routed to a file.

Import tframex through this module, never directly: the first import here sends the `tframex`
loggers to agents.log (runtime.py) before the library can emit anything. Importing this module
costs ~0.6 s, so only code that builds an assistant does it, never the TUI at start-up.
"""

from __future__ import annotations

import logging

from .runtime import route_tframex_logs

route_tframex_logs()

from tframex import (  # noqa: E402  (must follow the routing above)
    BaseLLMWrapper, FunctionCall, Message, MessageChunk, OpenAIChatLLM, TFrameXApp, ToolCall,
    ToolParameterProperty, ToolParameters,
)
from tframex.util.memory import BaseMemoryStore  # noqa: E402

# tframex.agents.base sets this to DEBUG at import; it would format every prompt
logging.getLogger("tframex.agent_internal_debug").setLevel(logging.WARNING)

__all__ = [
    "BaseLLMWrapper", "BaseMemoryStore", "FunctionCall", "Message", "MessageChunk", "OpenAIChatLLM",
    "TFrameXApp", "ToolCall", "ToolParameterProperty", "ToolParameters",
]
