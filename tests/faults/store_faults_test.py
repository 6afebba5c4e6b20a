"""The store on a file system that fills up, then gets room again, then is read-only, as a real run meets
them (docs/reliability.md): a tmpfs of 3.5 MB in a mount namespace of the test's own.

    store_faults_test.py TORCHSYSTEM WORKDIR

Needs root (CI runs as root) for the mount namespace; exits 77, which CTest reports as skipped, not
passed, without it.
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.request

SKIPPED = 77
IDENTITY = "MLP-af51a51a38f7ad81f9523360fafe7068"


def run(torchsystem, *arguments):
    return subprocess.run([torchsystem, *arguments], capture_output=True, text=True, timeout=240)


def clean(result):
    """No abort and no LibTorch stack trace: the error is the program's own line."""
    text = (result.stdout or "") + (result.stderr or "")
    assert "terminate called" not in text and "frame #" not in text and result.returncode >= 0, text


def mount(store, options):
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", store], check=True)


def inside_namespace(torchsystem, workdir):
    store = os.path.join(workdir, "store")
    os.makedirs(store)
    config = os.path.join(workdir, "job.json")
    with open(config, "w") as file:
        json.dump({"model": {"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10,
                                                          "dropout": 0.5, "activation": "ReLU"}},
                   "criterion": {"name": "CrossEntropyLoss"}, "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}},
                   "epochs": 3, "batch_size": 64, "seed": 1, "store": "store",
                   "data": {"train_samples": 256, "test_samples": 64}, "plugins": ["seed"]}, file)
    checkpoint = os.path.join(store, IDENTITY + ".pth")

    # A full disk: a checkpoint takes 2.4 MB, so epoch 1 saves and epoch 2's new file does not fit.
    mount(store, "size=3500k")
    full = run(torchsystem, "train", config)
    clean(full)
    assert full.returncode == 1, (full.returncode, full.stderr)
    assert full.stderr.startswith(f"torchsystem train: {checkpoint}: cannot save: cannot write "), full.stderr
    assert full.stderr.rstrip().endswith("No space left on device"), full.stderr
    assert "epoch 1  loss" in full.stdout and "epoch 2  loss" not in full.stdout, full.stdout
    assert not [name for name in os.listdir(store) if name.startswith(".tmp-")], os.listdir(store)
    verified = run(torchsystem, "checkpoints", "verify", store)
    assert verified.returncode == 0 and "1 checked, 0 damaged" in verified.stdout, verified.stdout + verified.stderr
    listed = json.loads(run(torchsystem, "checkpoints", store, "--json").stdout)
    assert [entry["epoch"] for entry in listed] == [1], listed

    # The program's own output onto a full device: the same care, a clear error and exit status 1.
    with open("/dev/full", "w") as full_device:
        listing = subprocess.run([torchsystem, "checkpoints", store], stdout=full_device, stderr=subprocess.PIPE,
                                 text=True, timeout=60)
    clean(listing)
    assert listing.returncode == 1, listing.returncode
    assert listing.stderr == "torchsystem checkpoints: cannot write the output: No space left on device\n", listing.stderr

    # Room again: the same command resumes from the kept epoch.
    subprocess.run(["mount", "-o", "remount,size=20m", store], check=True)
    again = run(torchsystem, "train", config)
    clean(again)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming from epoch 1" in again.stdout and "epoch 4  loss" in again.stdout, again.stdout

    # Read-only: training refuses before its first epoch, naming the store; serving only reads, and works.
    subprocess.run(["mount", "-o", "remount,ro", store], check=True)
    refused = run(torchsystem, "train", config)
    clean(refused)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.startswith(f"torchsystem train: {store}: the store is not writable ("), refused.stderr
    assert "Read-only file system" in refused.stderr and "epoch 1" not in refused.stdout, refused.stderr
    server = subprocess.Popen([torchsystem, "serve", "--store", store, "--port", "0", "--plugin", "seed"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + server.stderr.read()
        url = line.split()[-1]
        body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 784],
                                       "data": [0.5] * 784}]}).encode()
        name, digest = IDENTITY.split("-")
        request = urllib.request.Request(f"{url}/v2/models/{name}/versions/{digest}/infer", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.load(response)["outputs"][0]["shape"] == [1, 10]
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(torchsystem, workdir):
    if os.environ.get("TORCHSYSTEM_IN_NAMESPACE") == "1":
        inside_namespace(torchsystem, workdir)
        print("ok")
        return
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("skipped: the mount namespace needs root and unshare (CI runs as root)")
        sys.exit(SKIPPED)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    # The mounts live and die with a mount namespace of the test's own: nothing outside sees them.
    environment = dict(os.environ, TORCHSYSTEM_IN_NAMESPACE="1")
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, __file__, torchsystem,
                             workdir], env=environment, timeout=600)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
