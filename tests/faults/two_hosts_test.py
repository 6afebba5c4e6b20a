"""Two machines made of network namespaces (a veth pair, 10.77.0.1 and 10.77.0.2, one rank in each, with
torchrun's variables), where the host's name resolves to a loopback address: the ranks bind Gloo to the
address of their route to MASTER_ADDR and train; an interface that does not exist is named; a partition
mid-run ends both ranks within the timeout, naming the peer lost, with the last epoch kept, verified and
resumed once the link is back (docs/training.md).

    two_hosts_test.py TORCHSYSTEM WORKDIR

Needs root and iproute2 (CI runs as root); exits 77, which CTest reports as skipped, not passed, without.
"""
import json
import os
import shutil
import subprocess
import sys
import time

SKIPPED = 77
TIMEOUT = 5  # TORCHSYSTEM_DIST_TIMEOUT, seconds
IDENTITY = "MLP-af51a51a38f7ad81f9523360fafe7068"


class Hosts:
    """Two namespaces joined by a veth pair, removed on exit."""

    def __init__(self):
        tag = str(os.getpid() % 100000)
        self.names = ["tsa" + tag, "tsb" + tag]
        self.links = ["va" + tag, "vb" + tag]
        self.addresses = ["10.77.0.1", "10.77.0.2"]

    def ip(self, *arguments):
        subprocess.run(["ip", *arguments], check=True)

    def __enter__(self):
        for name in self.names:
            self.ip("netns", "add", name)
        self.ip("link", "add", self.links[0], "type", "veth", "peer", "name", self.links[1])
        for name, link, address in zip(self.names, self.links, self.addresses):
            self.ip("link", "set", link, "netns", name)
            self.ip("-n", name, "addr", "add", address + "/24", "dev", link)
            self.ip("-n", name, "link", "set", "lo", "up")
            self.ip("-n", name, "link", "set", link, "up")
        return self

    def __exit__(self, *_):
        for name in self.names:
            subprocess.run(["ip", "netns", "del", name], check=False)

    def link(self, host, state):
        self.ip("-n", self.names[host], "link", "set", self.links[host], state)

    def start(self, host, torchsystem, config, log, **environment):
        variables = [f"{key}={value}" for key, value in {
            "WORLD_SIZE": 2, "RANK": host, "LOCAL_RANK": 0, "MASTER_ADDR": self.addresses[0], "MASTER_PORT": 29517,
            "TORCHSYSTEM_DIST_TIMEOUT": TIMEOUT, **environment}.items()]
        return subprocess.Popen(["ip", "netns", "exec", self.names[host], "env", *variables, torchsystem, "train",
                                 config], stdout=open(log, "w"), stderr=subprocess.STDOUT)


def write_config(workdir, name, epochs, samples):
    path = os.path.join(workdir, name)
    with open(path, "w") as file:
        json.dump({"model": {"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10,
                                                          "dropout": 0.5, "activation": "ReLU"}},
                   "criterion": {"name": "CrossEntropyLoss"}, "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}},
                   "epochs": epochs, "batch_size": 64, "seed": 1, "store": "store",
                   "data": {"train_samples": samples, "test_samples": 64}, "plugins": ["seed"]}, file)
    return path


def text(log):
    with open(log) as file:
        return file.read()


def both(ranks, seconds):
    """The ranks' exit statuses, waiting at most `seconds` in all; a rank still running is killed and fails."""
    deadline = time.monotonic() + seconds
    statuses = []
    for rank in ranks:
        try:
            statuses.append(rank.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            rank.kill()
            rank.wait()
            statuses.append("still running after %d s" % seconds)
    return statuses


def train_across_hosts(hosts, torchsystem, workdir):
    config = write_config(workdir, "short.json", 2, 256)
    logs = [os.path.join(workdir, f"rank{rank}.log") for rank in (0, 1)]
    ranks = [hosts.start(rank, torchsystem, config, logs[rank]) for rank in (0, 1)]
    assert both(ranks, 120) == [0, 0], [text(log) for log in logs]
    first = [text(log).splitlines()[0] for log in logs]
    assert first[0].endswith("; rank 0 on 10.77.0.1 (the route to 10.77.0.1)"), first[0]
    assert first[1] == "rank 1 of 2 on 10.77.0.2 (the route to 10.77.0.1)", first[1]
    assert "done: 2 epochs in all" in text(logs[0]), text(logs[0])


def name_a_missing_interface(hosts, torchsystem, workdir):
    config = write_config(workdir, "short.json", 2, 256)
    log = os.path.join(workdir, "missing-interface.log")
    rank0 = hosts.start(0, torchsystem, config, os.path.join(workdir, "alone.log"))
    rank1 = hosts.start(1, torchsystem, config, log, GLOO_SOCKET_IFNAME="nosuch0")
    statuses = both([rank1, rank0], 3 * TIMEOUT + 30)
    assert statuses[0] == 3 and statuses[1] == 3, statuses
    expected = f"torchsystem: rank 1 of 2: GLOO_SOCKET_IFNAME=nosuch0: no network interface nosuch0 (this host has lo, {hosts.links[1]})"
    assert expected in text(log), text(log)


def survive_a_partition(hosts, torchsystem, workdir):
    shutil.rmtree(os.path.join(workdir, "store"), ignore_errors=True)
    config = write_config(workdir, "long.json", 500, 2048)
    logs = [os.path.join(workdir, f"partition{rank}.log") for rank in (0, 1)]
    ranks = [hosts.start(rank, torchsystem, config, logs[rank]) for rank in (0, 1)]
    deadline = time.monotonic() + 120
    while "\nepoch 3 " not in text(logs[0]) and time.monotonic() < deadline and ranks[0].poll() is None:
        time.sleep(0.1)
    assert "\nepoch 3 " in text(logs[0]), text(logs[0])
    hosts.link(1, "down")
    cut = time.monotonic()
    statuses = both(ranks, TIMEOUT + 20)
    elapsed = time.monotonic() - cut
    assert statuses == [3, 3], (statuses, [text(log)[-600:] for log in logs])
    assert elapsed <= TIMEOUT + 10, elapsed  # the timeout plus a bounded margin
    for rank, peer in ((0, "rank 1 at 10.77.0.2"), (1, "rank 0 at 10.77.0.1")):
        assert f"(the other rank, {peer}, died, or did not answer within {TIMEOUT} s)" in text(logs[rank]), text(logs[rank])
    saved = max(int(line.split()[1]) for line in text(logs[0]).splitlines() if line.startswith("epoch "))
    store = os.path.join(workdir, "store")
    verify = subprocess.run([torchsystem, "checkpoints", "verify", store], capture_output=True, text=True)
    assert verify.returncode == 0 and "1 checked, 0 damaged" in verify.stdout, verify.stdout + verify.stderr
    listed = json.loads(subprocess.run([torchsystem, "checkpoints", store, "--json"], capture_output=True,
                                       text=True, check=True).stdout)
    assert [entry["epoch"] for entry in listed] == [saved], (listed, saved)
    # The link back: the next run of both ranks resumes from the kept epoch.
    hosts.link(1, "up")
    config = write_config(workdir, "resume.json", 1, 2048)
    logs = [os.path.join(workdir, f"resume{rank}.log") for rank in (0, 1)]
    ranks = [hosts.start(rank, torchsystem, config, logs[rank]) for rank in (0, 1)]
    assert both(ranks, 120) == [0, 0], [text(log) for log in logs]
    assert f"resuming from epoch {saved}" in text(logs[0]) and f"\nepoch {saved + 1} " in text(logs[0]), text(logs[0])


def report_delay(hosts, torchsystem, workdir):
    """2 ms of netem delay each way, where the kernel has netem: the all-reduce time per step it gives."""
    for host in (0, 1):
        added = subprocess.run(["ip", "netns", "exec", hosts.names[host], "tc", "qdisc", "add", "dev",
                                hosts.links[host], "root", "netem", "delay", "2ms"], capture_output=True, text=True)
        if added.returncode != 0:
            print("netem delay not measured: tc cannot add netem here (" + added.stderr.strip() + ")")
            return
    config = write_config(workdir, "delayed.json", 1, 2048)
    shutil.rmtree(os.path.join(workdir, "store"), ignore_errors=True)
    logs = [os.path.join(workdir, f"delayed{rank}.log") for rank in (0, 1)]
    ranks = [hosts.start(rank, torchsystem, config, logs[rank]) for rank in (0, 1)]
    assert both(ranks, 120) == [0, 0], [text(log) for log in logs]
    line = next(line for line in text(logs[0]).splitlines() if line.startswith("epoch 1 "))
    print("with 2 ms of delay each way: " + line[line.index("all-reduce"):line.index("ms/step") + 7])


def main(torchsystem, workdir):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: network namespaces need root and iproute2 (CI runs as root)")
        sys.exit(SKIPPED)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    os.chdir(workdir)
    with Hosts() as hosts:
        train_across_hosts(hosts, torchsystem, workdir)
        name_a_missing_interface(hosts, torchsystem, workdir)
        survive_a_partition(hosts, torchsystem, workdir)
        report_delay(hosts, torchsystem, workdir)
    print("ok")


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
