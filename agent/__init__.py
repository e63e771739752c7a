"""The research agent: settings, LLM providers, the LangGraph state machine and its runtime wiring."""
