"""The tool-calling way through a turn, for models capable of choosing their own tools.

The model sees the question and the tools (search_library, search_arxiv, fetch_paper); each call's
arguments are validated by the tool's schema (bounded counts, arXiv ids only, no URLs), and fetch hosts
come from settings, never from the model. The passages it found become the evidence its answer is
checked against.
"""

from __future__ import annotations

import time

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import StructuredTool
from pydantic import ValidationError

from agent.lc_tools import SearchLibraryArgs, make_tools
from agent.nodes import AgentServices, _event
from agent.state import AgentState
from prompts import render
from retrieval.search import Passage


class ToolLoop:
    def __init__(self, model: BaseChatModel, services: AgentServices, max_steps: int = 6) -> None:
        self.model = model
        self.s = services
        self.max_steps = max_steps

    def _tools(self, found: list[Passage]) -> dict[str, StructuredTool]:
        def search_library(query: str, k: int = 8) -> list[dict]:
            passages = self.s.searcher.search(query, k=k)
            found.extend(p for p in passages if p.chunk_id not in {f.chunk_id for f in found})
            return [{"n": found.index(p) + 1 if p in found else None, "title": p.title, "section": p.section,
                     "page": p.page, "text": p.text[:800]} for p in passages]

        tools = {t.name: t for t in make_tools(self.s.arxiv, self.s.fetcher, self.s.searcher)}
        tools["search_library"] = StructuredTool.from_function(
            search_library, name="search_library", args_schema=SearchLibraryArgs,
            description="Find passages in the local library; cite them by their n.")
        return tools

    def run(self, state: AgentState) -> dict:
        started = time.perf_counter()
        found: list[Passage] = []
        tools = self._tools(found)
        bound = self.model.bind_tools(list(tools.values()))
        messages: list[BaseMessage] = [SystemMessage(render("tools_system")),
                                       HumanMessage(state["resolved_question"])]
        calls, used = state.get("llm_calls", 0), []
        for _ in range(self.max_steps):
            reply = bound.invoke(messages)
            calls += 1
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                used.append(call["name"])
                tool = tools.get(call["name"])
                try:
                    output = tool.invoke(call["args"]) if tool else f"unknown tool {call['name']}"
                except ValidationError as error:
                    output = f"invalid arguments: {error.errors()[0]['msg']}"
                messages.append(ToolMessage(str(output)[:4000], tool_call_id=call["id"]))
        answer = messages[-1].text if not getattr(messages[-1], "tool_calls", None) else ""
        return {"evidence": found, "answer": answer, "provider": f"llm:{self.model._llm_type}", "llm_calls": calls,
                "trace": _event(state, "tool_loop", f"tools: {', '.join(used) or 'none'}", started)}
