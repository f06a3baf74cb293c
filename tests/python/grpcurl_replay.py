#!/usr/bin/python3
"""Replays the grpcurl examples of a Markdown file against a live server, the way grpcurl runs them.

No grpcurl binary exists in Debian 12 or npm, so this does what grpcurl does with the same
arguments: server reflection for `list` and `describe`, and for `Service/Method` calls it fetches
the method's descriptors by reflection, parses the `-d` JSON with protobuf's JSON mapping (unknown
fields are errors, as in grpcurl), calls the method (unary or server streaming) and prints each
response as JSON. Every grpcurl command in a ``` block of the file is run in order, with
`--address` replacing the host:port written in the examples. Exits non-zero on the first failure.
"""
import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile


def grpcurl_commands(markdown):
    """The grpcurl command lines of the file's code blocks, continuation lines joined."""
    commands, in_block, pending = [], False, ""
    for line in open(markdown, encoding="utf-8"):
        if line.startswith("```"):
            in_block, pending = not in_block, ""
            continue
        if not in_block:
            continue
        text = pending + line.strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        if text.startswith("grpcurl "):
            commands.append(text)
    return commands


class Reflection:
    def __init__(self, channel, metadata, pb):
        self.pb = pb
        self.metadata = metadata
        self.call = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=pb.ServerReflectionRequest.SerializeToString,
            response_deserializer=pb.ServerReflectionResponse.FromString)

    def ask(self, **request):
        [response] = list(self.call(iter([self.pb.ServerReflectionRequest(**request)]), metadata=self.metadata,
                                    timeout=30))
        if response.HasField("error_response"):
            raise RuntimeError(f"reflection: {response.error_response.error_message}")
        return response

    def services(self):
        return sorted(s.name for s in self.ask(list_services="*").list_services_response.service)

    def pool_for(self, symbol):
        """A descriptor pool holding the file that defines `symbol` and everything it imports."""
        from google.protobuf import descriptor_pb2, descriptor_pool
        files = {}
        queue = [("file_containing_symbol", symbol)]
        while queue:
            kind, name = queue.pop()
            for raw in self.ask(**{kind: name}).file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                if proto.name not in files:
                    files[proto.name] = proto
                    queue.extend(("file_by_filename", d) for d in proto.dependency if d not in files)
        pool = descriptor_pool.DescriptorPool()
        added = set()

        def add(name):
            if name in added:
                return
            for dependency in files[name].dependency:
                add(dependency)
            pool.Add(files[name])
            added.add(name)

        for name in files:
            add(name)
        return pool


def run_one(words, address, reflection, channel, metadata):
    from google.protobuf import json_format, message_factory
    data, rest, i = None, [], 0
    while i < len(words):
        word = words[i]
        if word in ("-plaintext", "-v"):
            pass
        elif word == "-d":
            i += 1
            data = words[i]
        elif word == "-H":
            i += 1
            key, value = words[i].split(":", 1)
            metadata = metadata + [(key.strip().lower(), value.strip())]
        elif word.startswith("-"):
            raise RuntimeError(f"flag {word} is not replayed by this checker")
        else:
            rest.append(word)
        i += 1
    target, verb = rest[0], rest[1:]
    if target != address:
        raise RuntimeError(f"example addresses {target}, expected {address}")
    if verb == ["list"]:
        return "\n".join(reflection.services())
    if verb[0] == "list":
        pool = reflection.pool_for(verb[1])
        return "\n".join(m.full_name for m in pool.FindServiceByName(verb[1]).methods)
    if verb[0] == "describe":
        pool = reflection.pool_for(verb[1])
        try:
            return str(pool.FindServiceByName(verb[1]).full_name) + " is a service"
        except KeyError:
            return str(pool.FindMessageTypeByName(verb[1]).full_name) + " is a message"
    [method_path] = verb
    service_name, method_name = method_path.rsplit("/", 1)
    pool = reflection.pool_for(service_name)
    method = pool.FindServiceByName(service_name).methods_by_name[method_name]
    factory = message_factory.MessageFactory(pool)
    request_class = factory.GetPrototype(method.input_type)
    response_class = factory.GetPrototype(method.output_type)
    request = json_format.Parse(data or "{}", request_class())
    path = f"/{service_name}/{method_name}"
    printed = []
    if method.server_streaming:
        call = channel.unary_stream(path, request_serializer=request_class.SerializeToString,
                                    response_deserializer=response_class.FromString)
        for response in call(request, metadata=metadata, timeout=300):
            printed.append(json_format.MessageToJson(response))
    else:
        call = channel.unary_unary(path, request_serializer=request_class.SerializeToString,
                                   response_deserializer=response_class.FromString)
        printed.append(json_format.MessageToJson(call(request, metadata=metadata, timeout=300)))
    return "\n".join(printed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", required=True, action="append")
    parser.add_argument("--address", required=True, help="where the server listens (replaces the examples')")
    parser.add_argument("--example-address", default="localhost:50051")
    parser.add_argument("--reflection-proto-root", required=True)
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--token", default="")
    parser.add_argument("--only", action="append", default=[],
                        help="replay only calls naming one of these services (plain `list` always runs)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as generated:
        subprocess.run([args.protoc, "-I", args.reflection_proto_root, "--python_out=" + generated,
                        os.path.join(args.reflection_proto_root, "grpc/reflection/v1alpha/reflection.proto")],
                       check=True)
        # Loaded by path: the name grpc.* belongs to the installed grpcio package.
        spec = importlib.util.spec_from_file_location(
            "reflection_pb2", os.path.join(generated, "grpc/reflection/v1alpha/reflection_pb2.py"))
        pb = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pb)
        import grpc

        metadata = [("authorization", "Bearer " + args.token)] if args.token else []
        channel = grpc.insecure_channel(args.address)
        reflection = Reflection(channel, metadata, pb)
        ran = []
        for markdown in args.markdown:
            for command in grpcurl_commands(markdown):
                words = shlex.split(command)
                if args.only and words[-1] != "list" and not any(name in command for name in args.only):
                    continue
                command = command.replace(args.example_address, args.address)
                try:
                    output = run_one(shlex.split(command)[1:], args.address, reflection, channel, metadata)
                except Exception as error:  # report which example failed, then fail
                    print(json.dumps({"failed": command, "error": str(error)}))
                    return 1
                ran.append({"command": command, "output": output})
        print(json.dumps({"ran": ran}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
