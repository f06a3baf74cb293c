#!/usr/bin/python3
"""A Python client of transmla.v1.ConversionService (Debian's python3-grpcio), for interop tests.

Generates its stubs with the system protoc (3.21) and grpc_python_plugin, submits a conversion,
watches it to the end, downloads every artifact with ReadArtifact (resuming one read halfway), and
checks each file's sha256 against ListArtifacts. Prints a JSON summary; exits non-zero on failure.
"""
import argparse
import hashlib
import json
import tempfile

from stubs import add_stub_arguments, generate_stubs


def read_artifact(stub, pb, job_id, path, offset, token_metadata):
    data = bytearray()
    request = pb.ReadArtifactRequest(job_id=job_id, path=path, read_offset=offset)
    for chunk in stub.ReadArtifact(request, metadata=token_metadata, timeout=120):
        if chunk.offset != offset + len(data):
            raise RuntimeError(f"{path}: chunk at {chunk.offset}, expected {offset + len(data)}")
        if len(chunk.data) > 1 << 20:
            raise RuntimeError(f"{path}: chunk of {len(chunk.data)} bytes exceeds 1 MiB")
        data.extend(chunk.data)
    return bytes(data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    add_stub_arguments(parser)
    parser.add_argument("--model", default="stories260K")
    parser.add_argument("--job-id", default="python-job")
    parser.add_argument("--token", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as stubs:
        generate_stubs(args, "conversion_service.proto", stubs)
        import grpc
        from transmla.v1 import conversion_service_pb2 as pb
        from transmla.v1 import conversion_service_pb2_grpc as rpc

        metadata = [("authorization", "Bearer " + args.token)] if args.token else []
        channel = grpc.insecure_channel(args.address)
        stub = rpc.ConversionServiceStub(channel)
        request = pb.SubmitJobRequest(job_id=args.job_id, source_model=args.model,
                                      options=pb.ConversionOptions(mode=pb.CONVERSION_MODE_EXACT))
        job = stub.SubmitJob(request, metadata=metadata, timeout=60)
        events = 0
        final = None
        for event in stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=metadata, timeout=300):
            events += 1
            final = event.job
        if final is None or final.state != pb.JOB_STATE_SUCCEEDED:
            raise RuntimeError(f"job ended as {final}")
        report = json.loads(final.report_json)
        listing = stub.ListArtifacts(pb.ListArtifactsRequest(job_id=job.job_id), metadata=metadata, timeout=60)
        files = {}
        for artifact in listing.artifacts:
            data = read_artifact(stub, pb, job.job_id, artifact.path, 0, metadata)
            half = artifact.size_bytes // 2
            resumed = data[:half] + read_artifact(stub, pb, job.job_id, artifact.path, half, metadata)
            digest = hashlib.sha256(data).hexdigest()
            if len(data) != artifact.size_bytes or digest != artifact.sha256 or resumed != data:
                raise RuntimeError(f"{artifact.path}: size/sha256 mismatch")
            files[artifact.path] = artifact.size_bytes
        try:
            stub.GetJob(pb.GetJobRequest(job_id="no-such-job"), metadata=metadata, timeout=10)
            raise RuntimeError("GetJob of an unknown job succeeded")
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
        print(json.dumps({"job_id": job.job_id, "events": events, "mode": report["mode"], "files": files}))


if __name__ == "__main__":
    main()
