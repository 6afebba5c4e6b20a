"""The main job's training as a plain PyTorch loop, for benchmarks/train_side_by_side.sh.

    train_pytorch.py ROOT EPOCHS THREADS [reuse]
        prints one JSON line per epoch: {"epoch", "seconds", "test_accuracy"}

The same model (the seed's MLP: Linear(784, 256), ReLU, Dropout(0.5), Linear(256, 10)), loss
(CrossEntropyLoss), optimizer (Adam, lr 0.001), batch size (64), data (Fashion-MNIST, pixels in [0, 1]) and
shuffling (a permutation per epoch, batches sliced from one gathered tensor) as the C++ job.

The plain loop gathers into a fresh tensor each epoch (`train_x[order]`), as loops usually do. With
`reuse` it gathers into buffers kept across epochs, as the C++ job does, so the comparison can be made
like for like: on this machine a fresh 188 MB tensor costs about 0.6 s of page faults per epoch.
"""
import gzip
import json
import os
import sys
import time

import torch


def read_idx(path, header):
    with gzip.open(path, "rb") as file:
        data = file.read()
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8)


def load(root, split):
    images = read_idx(os.path.join(root, f"{split}-images-idx3-ubyte.gz"), 16).reshape(-1, 784).float().div_(255)
    labels = read_idx(os.path.join(root, f"{split}-labels-idx1-ubyte.gz"), 8).long()
    return images, labels


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layer = torch.nn.Linear(784, 256)
        self.activation = torch.nn.ReLU()
        self.dropout = torch.nn.Dropout(0.5)
        self.output_layer = torch.nn.Linear(256, 10)

    def forward(self, x):
        return self.output_layer(self.dropout(self.activation(self.input_layer(x))))


def main(root, epochs, threads, shuffle="fresh"):
    torch.set_num_threads(int(threads))
    torch.manual_seed(42)
    train_x, train_y = load(root, "train")
    test_x, test_y = load(root, "t10k")
    model = MLP()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    for epoch in range(1, int(epochs) + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(train_x.shape[0])
        if shuffle == "reuse":
            inputs = torch.index_select(train_x, 0, order, out=inputs if epoch > 1 else torch.empty_like(train_x))
            targets = torch.index_select(train_y, 0, order, out=targets if epoch > 1 else torch.empty_like(train_y))
        else:
            inputs, targets = train_x[order], train_y[order]
        for start in range(0, inputs.shape[0], 64):
            x, y = inputs[start:start + 64], targets[start:start + 64]
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - started
        model.eval()
        with torch.inference_mode():
            accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
        print(json.dumps({"epoch": epoch, "seconds": seconds, "test_accuracy": accuracy}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
