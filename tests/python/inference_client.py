#!/usr/bin/python3
"""A Python client of transmla.v1.InferenceService (Debian's python3-grpcio), for interop tests.

Generates its stubs with the system protoc and grpc_python_plugin, lists the models, streams one
greedy generation and prints a JSON summary (chunks, text, token ids, final usage). Exits non-zero
on failure.
"""
import argparse
import json
import sys
import tempfile

from stubs import add_stub_arguments, generate_stubs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    add_stub_arguments(parser)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as stubs:
        generate_stubs(args, "inference_service.proto", stubs)
        import grpc
        from transmla.v1 import inference_service_pb2 as pb
        from transmla.v1 import inference_service_pb2_grpc as rpc

        stub = rpc.InferenceServiceStub(grpc.insecure_channel(args.address))
        models = [m.name for m in stub.ListModels(pb.ListModelsRequest(), timeout=30).models]
        request = pb.GenerateRequest(model=args.model, prompt=args.prompt,
                                     sampling=pb.SamplingParams(max_tokens=args.max_tokens))
        chunks, text, ids, final = 0, "", [], None
        for chunk in stub.GenerateStream(request, timeout=60):
            chunks += 1
            text += chunk.text
            ids.extend(chunk.token_ids)
            if chunk.finish_reason:
                final = chunk
        if final is None:
            raise RuntimeError("the stream ended without a final chunk")
        print(json.dumps({"models": models, "chunks": chunks, "text": text, "token_ids": ids,
                          "finish_reason": final.finish_reason,
                          "completion_tokens": final.usage.completion_tokens}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
