"""The tool-calling way to search, for models that can choose their own tools.

The loop only decides where to look: the model calls search_library, search_arxiv and fetch_paper, and
the passages it finds go on to the same retrieve, gather (relevance cutoff), answer and verify steps as
the fixed pipeline's, so both ways share every safeguard. The model's own closing text is not the answer:
the answer step writes one from the gathered evidence (as PaperQA2 does).

Safeguards: tool arguments are validated by schema (bounded counts, arXiv ids only, no URLs); fetch hosts
come from settings, never from the model; fetches count against `papers_per_turn`; arXiv tools are
offered only when arXiv is on; every call counts against the turn's model-call and time budgets; a tool
that fails returns its reason to the model; a model that fails ends the loop (a recorded fallback).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from pydantic import ValidationError

from agent.lc_tools import make_tools
from agent.llm.structured import ModelStepError, call_options, describe
from agent.nodes import AgentServices, budget_left, stopped, trace_event, with_fallback
from agent.state import AgentState
from prompts import render
from retrieval.search import Passage
from tools.arxiv_client import ArxivError

log = logging.getLogger(__name__)
TOOL_OUTPUT_CHARACTERS = 4000


class ToolLoop:
    def __init__(self, model: BaseChatModel, services: AgentServices, max_steps: int = 6) -> None:
        self.model = model
        self.s = services
        self.max_steps = max_steps

    def _tools(self, found: list[Passage], fetched: list[str], room: Callable[[], int]) -> dict[str, BaseTool]:
        arxiv_on = self.s.limits.use_arxiv and self.s.arxiv is not None and self.s.fetcher is not None
        tools = make_tools(self.s.searcher, self.s.arxiv if arxiv_on else None, self.s.fetcher if arxiv_on else None,
                           found=found, fetched=fetched, room=room, library_k=self.s.quality.evidence_k)
        return {tool.name: tool for tool in tools}

    def _call_tool(self, tools: dict[str, BaseTool], name: str, args: dict) -> str:
        tool = tools.get(name)
        if "__invalid_json__" in args:
            return "the arguments were not a JSON object; send an object with the fields the tool describes"
        if tool is None:
            offered = ", ".join(sorted(tools))
            return f"{name} is not available in this deployment; use one of: {offered}"
        try:
            return str(tool.invoke(args))[:TOOL_OUTPUT_CHARACTERS]
        except ValidationError as error:
            return f"invalid arguments: {error.errors()[0]['msg']}"
        except ArxivError as error:
            return f"arXiv is unavailable: {error}"
        except Exception as error:  # a tool bug must not end the turn; the log has the details
            log.exception("tool %s failed", name)
            return f"{name} failed ({error.__class__.__name__}); try another tool"

    def run(self, state: AgentState) -> dict:
        started = time.perf_counter()
        found: list[Passage] = []
        fetched: list[str] = []

        def room() -> int:
            return max(0, self.s.limits.papers_per_turn - state.get("papers_fetched", 0) - len(fetched))

        tools = self._tools(found, fetched, room)
        bound = self.model.bind_tools(list(tools.values()))
        messages: list[BaseMessage] = [SystemMessage(render("tools_system")), HumanMessage(state["resolved_question"])]
        calls, used, updates, stop = state.get("llm_calls", 0), [], {}, "the model stopped calling tools"
        for step in range(self.max_steps):
            if budget := budget_left({**state, "llm_calls": calls}, self.s.limits):
                stop, updates = budget, {**updates, **stopped(state, budget)}
                break
            calls += 1
            try:
                reply = bound.invoke(messages, **call_options())
                for i, call in enumerate(reply.tool_calls):  # a server may send no id: the protocol needs one
                    call["id"] = call.get("id") or f"call_{step}_{i}"
            except Exception as error:  # unreachable, timed out, refused, malformed: the pipeline searches
                stop = f"the model failed: {error if isinstance(error, ModelStepError) else describe(error)}"
                log.warning("tool loop: %s (%s)", stop, error)
                updates["fallbacks"] = with_fallback(state, "tools", stop)
                break
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                used.append(call["name"])
                messages.append(ToolMessage(self._call_tool(tools, call["name"], call["args"]),
                                            tool_call_id=call["id"]))
        else:
            stop = f"the step limit ({self.max_steps}) was reached"
        detail = f"tools: {', '.join(used) or 'none'}; {stop}; {len(found)} passages, {len(fetched)} papers added"
        return {"passages": found, "library_searched": False, "acquired": len(fetched), "llm_calls": calls,
                "papers_fetched": state.get("papers_fetched", 0) + len(fetched), **updates,
                "trace": trace_event(state, "tool_loop", detail, started, updates.get("fallbacks", [{}])[-1].get(
                    "reason", ""))}
