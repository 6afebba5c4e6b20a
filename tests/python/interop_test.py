"""Checkpoints shared with real PyTorch, both ways, for one case (a model, a loss and an optimizer).

    interop_test.py CASE DRIVER WORKDIR

1. C++ trains and saves; Python restores with the reference's code (torch.load, load_state_dict on the
   model and the optimizer, the epoch) and continues.
2. Python trains and saves in the reference's layout {'epoch', 'nn', 'optimizer'} under
   <name>-<hash>.pth; the C++ store loads it and continues.
Each time, the eval-mode output of a fixed input and the state after one more optimizer step are
compared between the languages. The pickle C++ writes may use only the globals PyTorch's weights-only
unpickler allows.
"""
import hashlib
import json
import os
import pickletools
import subprocess
import sys
import zipfile

import torch

# The reference's MLP and GLU (examples/seed_models.cpp), and the test's two models (interop_driver.cpp).
class MLP(torch.nn.Module):
    def __init__(self, input_size, hidden_size, output_size, dropout, activation):
        super().__init__()
        self.input_layer = torch.nn.Linear(input_size, hidden_size)
        self.activation = activation
        self.dropout = torch.nn.Dropout(dropout)
        self.output_layer = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.output_layer(self.dropout(self.activation(self.input_layer(x))))


class GLU(torch.nn.Module):
    def __init__(self, input_size, hidden_size, output_size, dropout, activation):
        super().__init__()
        self.input_layer = torch.nn.Linear(input_size, hidden_size)
        self.gate_layer = torch.nn.Linear(input_size, hidden_size)
        self.activation = activation
        self.dropout = torch.nn.Dropout(dropout)
        self.output_layer = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x):
        hidden = self.activation(self.input_layer(x)) * torch.sigmoid(self.gate_layer(x))
        return self.output_layer(self.dropout(hidden))


class BNNet(torch.nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.input_layer = torch.nn.Linear(input_size, hidden_size)
        self.norm = torch.nn.BatchNorm1d(hidden_size)
        self.output_layer = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.output_layer(torch.relu(self.norm(self.input_layer(x))))


class LSTMNet(torch.nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_size, hidden_size, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


MODELS = {"MLP": MLP, "GLU": GLU, "BNNet": BNNet, "LSTMNet": LSTMNet}
SEQUENCE = 5

CASES = {
    "mlp_adam": {"model": {"name": "MLP", "arguments": {"input_size": 16, "hidden_size": 32, "output_size": 4,
                                                         "dropout": 0.0, "activation": "ReLU"}},
                 "criterion": {"name": "CrossEntropyLoss"},
                 "optimizer": {"name": "Adam", "arguments": {"lr": 0.01}}, "input_shape": [16]},
    "bn_sgd": {"model": {"name": "BNNet", "arguments": {"input_size": 16, "hidden_size": 32, "output_size": 4}},
               "criterion": {"name": "CrossEntropyLoss"},
               "optimizer": {"name": "SGD", "arguments": {"lr": 0.1, "momentum": 0.9}}, "input_shape": [16]},
    "lstm_rmsprop": {"model": {"name": "LSTMNet", "arguments": {"input_size": 8, "hidden_size": 16, "output_size": 4}},
                     "criterion": {"name": "CrossEntropyLoss"},
                     "optimizer": {"name": "RMSprop", "arguments": {"lr": 0.01, "momentum": 0.5, "centered": True}},
                     "input_shape": [SEQUENCE, 8]},
    "glu_adamw": {"model": {"name": "GLU", "arguments": {"input_size": 16, "hidden_size": 32, "output_size": 4,
                                                          "dropout": 0.0, "activation": "Tanh"}},
                  "criterion": {"name": "CrossEntropyLoss"},
                  "optimizer": {"name": "AdamW", "arguments": {"lr": 0.01, "amsgrad": True}}, "input_shape": [16]},
    "mlp_adagrad": {"model": {"name": "MLP", "arguments": {"input_size": 16, "hidden_size": 32, "output_size": 4,
                                                            "dropout": 0.0, "activation": "ReLU"}},
                    "criterion": {"name": "CrossEntropyLoss"},
                    "optimizer": {"name": "Adagrad", "arguments": {"lr": 0.1}}, "input_shape": [16]},
    "mlp_lbfgs": {"model": {"name": "MLP", "arguments": {"input_size": 16, "hidden_size": 32, "output_size": 4,
                                                          "dropout": 0.0, "activation": "ReLU"}},
                  "criterion": {"name": "CrossEntropyLoss"},
                  "optimizer": {"name": "LBFGS", "arguments": {"lr": 1.0, "max_iter": 4, "history_size": 3}},
                  "input_shape": [16]},
    "mlp_sgd_maximize": {"model": {"name": "MLP", "arguments": {"input_size": 16, "hidden_size": 32, "output_size": 4,
                                                                 "dropout": 0.0, "activation": "ReLU"}},
                         "criterion": {"name": "CrossEntropyLoss"},
                         "optimizer": {"name": "SGD", "arguments": {"lr": 0.01, "maximize": True}}, "input_shape": [16]},
}

# What PyTorch's weights-only unpickler (the default of torch.load from 2.6 on) lets a pickle name.
ALLOWED_GLOBALS = {"collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch FloatStorage",
                   "torch LongStorage", "torch DoubleStorage", "torch BoolStorage"}


def build(case):
    torch.manual_seed(0)
    model_config = case["model"]
    arguments = dict(model_config["arguments"])
    if "activation" in arguments:
        arguments["activation"] = getattr(torch.nn, arguments["activation"])()
    model = MODELS[model_config["name"]](**arguments)
    criterion = getattr(torch.nn, case["criterion"]["name"])()
    optimizer = getattr(torch.optim, case["optimizer"]["name"])(model.parameters(), **case["optimizer"]["arguments"])
    return model, criterion, optimizer


def identity(config):
    """The reference's identity: md5 of the name and json.dumps of the arguments."""
    return config["name"] + "-" + hashlib.md5((config["name"] + json.dumps(config["arguments"])).encode()).hexdigest()


def inputs(case, offset):
    shape = [8] + case["input_shape"]
    numel = 1
    for size in shape:
        numel *= size
    x = (torch.arange(offset, offset + numel, dtype=torch.float32) * 0.37).sin().reshape(shape)
    y = torch.arange(8, dtype=torch.int64).remainder(4)
    return x, y


def train_step(model, criterion, optimizer, x, y):
    model.train()

    def closure():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        return loss

    return optimizer.step(closure)


def continue_run(case, model, criterion, optimizer):
    """What both languages compute after restoring: a forward, then one more step."""
    x, y = inputs(case, 1000)
    model.eval()
    with torch.no_grad():
        output = model(x)
    train_step(model, criterion, optimizer, x, y)
    return output, model.state_dict()


def restore(path, model, optimizer):
    """The reference's restore step."""
    checkpoint = torch.load(path, map_location="cpu")
    model.load_state_dict(checkpoint["nn"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


def check_globals(path):
    with zipfile.ZipFile(path) as archive:
        pickle = archive.read(next(name for name in archive.namelist() if name.endswith("/data.pkl")))
    used = {argument for opcode, argument, _ in pickletools.genops(pickle) if opcode.name in ("GLOBAL", "STACK_GLOBAL", "INST")}
    assert used <= ALLOWED_GLOBALS, f"{path}: globals beyond the weights-only unpickler's: {used - ALLOWED_GLOBALS}"
    assert "torch._utils _rebuild_tensor_v2" in used, f"{path}: no tensor in the pickle?"


def compare(what, python, cpp, exact):
    if exact:
        assert torch.equal(python, cpp), f"{what}: differs bit for bit (max diff {(python - cpp).abs().max()})"
        return
    if python.is_floating_point():
        scale = python.abs().max().clamp(min=1.0)
        difference = (python - cpp).abs().max() / scale
        assert difference <= 1e-6, f"{what}: relative difference {difference} > 1e-6"
    else:
        assert torch.equal(python, cpp), f"{what}: {python} != {cpp}"


def compare_results(label, case, python_output, python_state, cpp_file, epoch):
    cpp = torch.load(cpp_file)
    assert cpp["epoch"] == epoch, f"{label}: C++ resumed from epoch {cpp['epoch']}, not {epoch}"
    # The same weights through the same LibTorch build: the forward agrees bit for bit.
    compare(f"{label}: output", python_output, cpp["output"], exact=True)
    assert list(cpp["state"].keys()) == list(python_state.keys()), f"{label}: state keys differ"
    # The optimizers are separate implementations in the two languages: within 1e-6.
    for key, value in python_state.items():
        compare(f"{label}: {key} after one more step", value, cpp["state"][key], exact=False)


def resume_in_both(label, case, config, driver, store, path, out):
    """Python restores `path` with the reference's code and continues; C++ restores the same identity
    from `store` and continues; both must agree."""
    model, criterion, optimizer = build(case)
    assert restore(path, model, optimizer) == 3
    output, state = continue_run(case, model, criterion, optimizer)
    subprocess.run([driver, "resume", config, store, out], check=True)
    compare_results(label, case, output, state, out, 3)


def main(case_name, driver, workdir):
    case = CASES[case_name]
    config = json.dumps(case)
    os.makedirs(workdir, exist_ok=True)
    name = identity(case["model"])

    # 1. C++ trains, Python resumes.
    cpp_store = os.path.join(workdir, "cpp")
    saved = subprocess.run([driver, "save", config, cpp_store], check=True, capture_output=True, text=True).stdout.strip()
    assert os.path.basename(saved) == name + ".pth", f"C++ saved {saved}, the reference names {name}.pth"
    check_globals(saved)
    resume_in_both("C++ checkpoint", case, config, driver, cpp_store, saved, os.path.join(workdir, "cpp-continued.pth"))

    # 2. Python trains and saves as the reference does, C++ resumes.
    python_store = os.path.join(workdir, "python")
    os.makedirs(python_store, exist_ok=True)
    model, criterion, optimizer = build(case)
    for step in range(3):
        train_step(model, criterion, optimizer, *inputs(case, 100 * step))
    path = os.path.join(python_store, name + ".pth")
    torch.save({"epoch": 3, "nn": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    resume_in_both("Python checkpoint", case, config, driver, python_store, path,
                   os.path.join(workdir, "python-continued.pth"))
    print(f"{case_name}: both round trips agree")


if __name__ == "__main__":
    main(*sys.argv[1:])
