#!/usr/bin/env python3
"""A PyTorch CNN on Fashion-MNIST, one process per peer, gossiped by rumor.

    fashion_cnn.py SCENARIO TOPOLOGY ID KEY      one peer of the scenario's topology
    fashion_cnn.py SCENARIO - ID - --alone       the same model on peer ID's shard, no gossip
    fashion_cnn.py SCENARIO - 0 - --alone --all  the same model on all the training data

Every peer seeds its model alike (a common initial model), trains on its IID shard of the
training set (shard ID of the topology's N nodes) with SGD, momentum and a cosine step size,
--local-steps minibatches per round (3), and then gossips (peer.round on the flat buffer that
rumor.torch.flatten made). The scenario's model must be external:D with D this CNN's
parameter count (the script says it when it differs); its rounds are gossip rounds. At the
end it prints its test accuracy and a JSON line: rounds, bytes sent, accuracy, and the
process CPU seconds spent in the torch steps and in peer.round(). KEY may be "-" with
--insecure (loopback, ipc, inproc).
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))
import rumor  # noqa: E402
import rumor.torch  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, split):
    x = idx(os.path.join(data, f"{split}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = idx(os.path.join(data, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x - 0.2860) / 0.3530
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))


def accuracy(model, x, y):
    with torch.no_grad():
        return sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                   for i in range(0, len(y), 1000)) / len(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("topology")
    ap.add_argument("id", type=int)
    ap.add_argument("key")
    ap.add_argument("--insecure", action="store_true")
    ap.add_argument("--alone", action="store_true", help="no gossip: train on the shard alone")
    ap.add_argument("--all", action="store_true", help="with --alone: on all the training data")
    ap.add_argument("--peers", type=int, default=8, help="with --alone: shards [8]")
    ap.add_argument("--rounds", type=int, default=0, help="stop after this many rounds")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--local-steps", type=int, default=3, help="SGD steps per round [3]")
    ap.add_argument("--lr", type=float, help="SGD step size [the scenario's algorithm.lr]")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0, help="SGD weight decay [0]")
    ap.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                    help="step size over the rounds: cosine decay to 0, or constant [cosine]")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--test-rows", type=int, default=2000,
                    help="test rows of the --eval-every evaluations [2000]; the last uses all")
    ap.add_argument("--metrics", help="rumor's metrics of this peer (JSON Lines): bytes, "
                    "the round's time split")
    ap.add_argument("--eval-every", type=int, default=0, help="print test accuracy every N")
    a = ap.parse_args()
    torch.set_num_threads(1)

    with open(a.scenario) as f:
        sc = json.load(f)
    seed = sc.get("seed", 1)
    torch.manual_seed(seed)  # the common initial model
    model = cnn()
    flat = rumor.torch.flatten(model)
    want = f"external:{flat.numel()}"
    if sc.get("model") != want:
        sys.exit(f"fashion_cnn: {a.scenario}: model must be \"{want}\" for this CNN")

    peer = None
    if a.alone:
        peers, rounds = a.peers, sc["algorithm"]["rounds"]
    else:
        peer = rumor.Peer(a.scenario, a.topology, a.id, None if a.key == "-" else a.key,
                          insecure=a.insecure, metrics=a.metrics)
        peers, rounds = peer_count(a.topology), peer.rounds
    if a.rounds:
        rounds = min(rounds, a.rounds)
    x, y = load(a.data, "train")
    tx, ty = load(a.data, "t10k")
    perm = np.random.RandomState(seed).permutation(len(y))
    rows = torch.from_numpy(perm if a.all else perm[a.id::peers].copy())
    x, y = x[rows], y[rows]

    lr = a.lr if a.lr is not None else sc["algorithm"].get("lr", 0.05)
    sgd = torch.optim.SGD(model.parameters(), lr=lr, momentum=a.momentum,
                          weight_decay=a.weight_decay)
    opt = sgd if peer is None else rumor.torch.GossipOptimizer(sgd, peer, flat,
                                                             common_init=True)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed * 1000 + a.id)
    order, at = torch.randperm(len(y), generator=gen), 0
    cpu_step = cpu_round = 0.0
    t0 = time.time()
    for t in range(rounds):
        if a.schedule == "cosine":
            for group in sgd.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * t / rounds))
        c0 = time.process_time()
        for _ in range(a.local_steps):
            if at + a.batch > len(y):
                order, at = torch.randperm(len(y), generator=gen), 0
            b = order[at:at + a.batch]
            at += a.batch
            opt.zero_grad()
            loss_fn(model(x[b]), y[b]).backward()
            sgd.step()
        c1 = time.process_time()
        if peer is not None:
            peer.round(flat)
        c2 = time.process_time()
        cpu_step += c1 - c0
        cpu_round += c2 - c1
        if a.eval_every and (t + 1) % a.eval_every == 0:
            print(f"peer {a.id}: round {t + 1}/{rounds}: test accuracy "
                  f"{accuracy(model, tx[:a.test_rows], ty[:a.test_rows]):.4f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
    acc = accuracy(model, tx, ty)
    out = {"peer": a.id, "rounds": rounds, "local_steps": a.local_steps, "batch": a.batch,
           "lr": lr, "schedule": a.schedule, "weight_decay": a.weight_decay, "acc": acc, "alone": a.alone, "all": a.all,
           "bytes_sent": peer.bytes_sent if peer else 0,
           "cpu_step_s": round(cpu_step, 3), "cpu_round_s": round(cpu_round, 3),
           "wall_s": round(time.time() - t0, 1)}
    if peer is not None:
        peer.close()
    print(f"peer {a.id}: test accuracy {acc:.4f} after {rounds} rounds", flush=True)
    print(json.dumps(out), flush=True)


def peer_count(topology):
    with open(topology) as f:
        return len(json.load(f)["nodes"])


if __name__ == "__main__":
    main()
