"""The LangGraph state machine of one research turn. Edges are declared here, in one place:

    understand -> search -> acquire -> retrieve -> gather -> answer -> verify -> [hypothesize]
                     ^                                 |
                     +------------ reflect <-----------+   (evidence thin, at most max_rounds)

With a model that can pick its own tools, `understand -> tool_loop -> retrieve` replaces search and
acquire; everything from retrieve on (relevance cutoff, budgets, answer, citation check) is shared.
The graph takes a TurnInput and gives a TurnResult's fields (agent/turn.py). It keeps no checkpoint: a
conversation's earlier turns are its stored messages, given back to each turn as `history`.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.nodes import AgentServices, TurnNodes
from agent.state import AgentState
from agent.tool_loop import ToolLoop
from agent.turn import TurnInput, TurnResult


def build_graph(services: AgentServices, tool_loop: ToolLoop | None = None) -> CompiledStateGraph:
    nodes = TurnNodes(services)
    graph = StateGraph(AgentState, input_schema=TurnInput, output_schema=TurnResult)
    for name in ("understand", "search", "acquire", "retrieve", "gather", "reflect", "answer", "verify",
                 "hypothesize"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_edge(START, "understand")
    if tool_loop is not None:
        graph.add_node("tool_loop", tool_loop.run)
        graph.add_conditional_edges("understand", lambda s: "answer" if s.get("intent") == "chit_chat"
                                    else "tool_loop", ["answer", "tool_loop"])
        graph.add_edge("tool_loop", "retrieve")
    else:
        graph.add_conditional_edges("understand", lambda s: "answer" if s.get("intent") == "chit_chat"
                                    else "search", ["answer", "search"])
    graph.add_edge("search", "acquire")
    graph.add_edge("acquire", "retrieve")
    graph.add_edge("retrieve", "gather")
    graph.add_conditional_edges("gather", nodes.after_gather, ["reflect", "answer"])
    graph.add_edge("reflect", "search")
    graph.add_edge("answer", "verify")
    graph.add_conditional_edges("verify", nodes.after_verify, ["hypothesize", END])
    graph.add_edge("hypothesize", END)
    return graph.compile()
