"""The embedded model's server process: loads the GGUF into xllamacpp's llama.cpp HTTP server.

Run as a script by `EmbeddedServer` (it imports nothing from accord). It serves on 127.0.0.1 on a
port the OS picks, writes the listening address to `--address-file` once the model is loaded,
then serves until its standard input closes: the parent closes it on `stop()`, and the OS
closes it when the parent dies in any way, so the server never outlives its owner.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Starts the server, reports its address, and blocks until stdin reaches end of file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--address-file", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--ctx", type=int, required=True)
    parser.add_argument("--parallel", type=int, required=True)
    parser.add_argument("--alias", required=True)
    args = parser.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_parallel = args.parallel
    # llama.cpp splits n_ctx evenly across slots: give each slot the context it was promised.
    params.n_ctx = args.ctx * args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    # Sleep rather than spin between steps. Measured on 2 shared cores with 2 threads: spinning
    # (llama.cpp's default, poll=50) gave 8-31 tokens/s as other processes came and went;
    # sleeping gave a steady 27-33.
    params.cpuparams.poll = 0
    params.cpuparams_batch.poll = 0
    # The prompt cache: each slot keeps its last prompt's KV cache and a request is sent to the
    # slot whose cached prompt it shares most with, so a session's next turn (the same system
    # prompt and conversation, a few new tokens) only reads what is new. Prompts that were
    # evicted from a slot are kept in RAM (up to cache_ram_mib) and restored when they return:
    # the agents of a team take turns without re-reading each other's prompts.
    params.cache_prompt = True
    params.slot_prompt_similarity = 0.1
    params.cache_ram_mib = 2048
    params.verbosity = 0
    server = xllamacpp.Server(params)

    tmp = f"{args.address_file}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(str(server.listening_address))
    os.replace(tmp, args.address_file)

    sys.stdin.buffer.read()
    # Skip interpreter teardown: llama.cpp's native threads need no orderly Python shutdown, and
    # waiting for them is the one way this process could outlive its parent.
    os._exit(0)


if __name__ == "__main__":
    main()
