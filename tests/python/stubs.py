"""Python stubs of one transmla.v1 service, generated with the system protoc and grpc_python_plugin."""
import os
import subprocess
import sys


def add_stub_arguments(parser):
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--plugin", default="/usr/bin/grpc_python_plugin")


def generate_stubs(args, service_proto, out_dir):
    """Compiles transmla/v1/<service_proto> into out_dir and makes it importable."""
    proto = os.path.join(args.proto_root, "transmla", "v1", service_proto)
    subprocess.run([args.protoc, "-I", args.proto_root, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
                    "--plugin=protoc-gen-grpc_python=" + args.plugin, proto], check=True)
    sys.path.insert(0, out_dir)
