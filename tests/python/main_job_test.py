"""The main job and real PyTorch: its checkpoint restores in Python with the reference's code, and a
checkpoint Python saved in the reference's layout resumes in the job.

    main_job_test.py TORCHSYSTEM WORKDIR
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from interop_test import MLP  # noqa: E402  (the reference's MLP)

ARGUMENTS = {"input_size": 784, "hidden_size": 32, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}


def main(torchsystem, workdir):
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    config = {"model": {"name": "MLP", "arguments": ARGUMENTS}, "criterion": {"name": "CrossEntropyLoss"},
              "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}}, "epochs": 1, "batch_size": 64, "seed": 3,
              "store": "weights", "data": {"train_samples": 512, "test_samples": 128}, "plugins": ["seed"]}
    config_path = os.path.join(workdir, "config.json")
    with open(config_path, "w") as file:
        json.dump(config, file)
    digest = hashlib.md5(("MLP" + json.dumps(ARGUMENTS)).encode()).hexdigest()
    path = os.path.join(workdir, "weights", f"MLP-{digest}.pth")

    # The job's checkpoint, restored as the reference restores.
    subprocess.run([torchsystem, "train", config_path], check=True, capture_output=True)
    model = MLP(784, 32, 10, 0.5, torch.nn.ReLU())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    checkpoint = torch.load(path, map_location="cpu")
    model.load_state_dict(checkpoint["nn"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    assert checkpoint["epoch"] == 1, checkpoint["epoch"]
    assert checkpoint["torchsystem"]["model"]["hash"] == digest
    assert [record["epoch"] for record in checkpoint["torchsystem"]["extra"]["history"]] == [1]
    optimizer.zero_grad()
    torch.nn.CrossEntropyLoss()(model(torch.rand(4, 784)), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step()  # the restored Adam state steps on
    assert optimizer.state_dict()["state"][0]["step"].item() == checkpoint["optimizer"]["state"][0]["step"].item() + 1

    # A checkpoint Python saved in the reference's layout, at epoch 5, resumes in the job.
    torch.manual_seed(11)
    model = MLP(784, 32, 10, 0.5, torch.nn.ReLU())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    for _ in range(2):
        optimizer.zero_grad()
        torch.nn.CrossEntropyLoss()(model(torch.rand(4, 784)), torch.tensor([0, 1, 2, 3])).backward()
        optimizer.step()
    torch.save({"epoch": 5, "nn": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    listed = json.loads(subprocess.run([torchsystem, "checkpoints", os.path.join(workdir, "weights"), "--json"],
                                       check=True, capture_output=True, text=True).stdout)
    assert [(entry["name"], entry["hash"], entry["epoch"], entry["arguments"]) for entry in listed] == \
        [("MLP", digest, 5, None)], listed
    run = subprocess.run([torchsystem, "train", config_path], check=True, capture_output=True, text=True)
    assert "resuming from epoch 5" in run.stdout, run.stdout
    resumed = torch.load(path, map_location="cpu")
    assert resumed["epoch"] == 6, resumed["epoch"]
    assert resumed["optimizer"]["state"][0]["step"].item() == 2 + 8, resumed["optimizer"]["state"][0]["step"]
    print("main job: its checkpoint restores in Python, and Python's resumes in it")


if __name__ == "__main__":
    main(*sys.argv[1:])
