"""ctest "python": the Python module over librumor (RUMOR_LIBRARY, RUMOR_BIN, RUMOR_SOURCE_DIR).

Pure gossip through the binding adds nothing: 8 NumPy peers of a ring (threads of this
process, inproc sockets) that take no local step, starting from the initial models that
`rumor sim --rounds 0 --models FILE` writes, end byte-identical to `rumor sim` of the same
scenario with lr 0. Also: zero-copy rounds on NumPy arrays and torch tensors, flatten() and
GossipOptimizer, and errors from C as rumor.Error with rumor's message."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np

SRC = os.environ["RUMOR_SOURCE_DIR"]
BIN = os.environ["RUMOR_BIN"]
sys.path.insert(0, os.path.join(SRC, "python"))
import rumor  # noqa: E402

ROUNDS = 40
_net = [0]


def ring(tmp, n):
    """A ring of n nodes on fresh inproc endpoints; returns its path."""
    _net[0] += 1
    path = os.path.join(tmp, f"ring{_net[0]}.json")
    nodes = [{"id": i, "endpoint": f"inproc://py-{_net[0]}-{i}"} for i in range(n)]
    edges = [[i, (i + 1) % n] for i in range(n if n > 2 else n - 1)]
    with open(path, "w") as f:
        json.dump({"name": f"ring{n}", "nodes": nodes, "edges": edges,
                   "weights": "metropolis"}, f)
    return path


def run_threads(fns):
    errors = []

    def wrap(fn):
        try:
            fn()
        except Exception as e:  # reported by the test
            errors.append(e)
    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class Binding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rumor-python-")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp], check=True)

    def scenario(self, model, **algo):
        with open(os.path.join(SRC, "sims", "synthetic-ring8-malcom.json")) as f:
            sc = json.load(f)
        sc["model"] = model
        sc["algorithm"].update(algo)
        sc["topology"] = {"generate": "ring", "n": 8}
        path = os.path.join(self.tmp, f"{model.replace(':', '-')}.json")
        with open(path, "w") as f:
            json.dump(sc, f)
        return path

    def test_pure_gossip_matches_rumor_sim(self):
        sim = self.scenario("mlp:16", lr=0, rounds=ROUNDS)
        init, final = os.path.join(self.tmp, "init.bin"), os.path.join(self.tmp, "sim.bin")
        subprocess.run([BIN, "sim", sim, "--rounds", "0", "--models", init, "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([BIN, "sim", sim, "--models", final, "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        x0 = np.fromfile(init, np.float32).reshape(8, -1)
        ext = self.scenario(f"external:{x0.shape[1]}", lr=0, rounds=ROUNDS)
        topo = ring(self.tmp, 8)
        params = [x0[i].copy() for i in range(8)]
        peers = [rumor.Peer(ext, topo, i, insecure=True) for i in range(8)]

        def node(i):
            def go():
                peers[i].set_initial(params[i])
                while peers[i].round_index < peers[i].rounds:
                    peers[i].round(params[i])  # in place, no local step
                peers[i].close()
            return go
        run_threads([node(i) for i in range(8)])
        got = np.concatenate(params).tobytes()
        with open(final, "rb") as f:
            want = f.read()
        self.assertNotEqual(x0.tobytes(), want, "the simulated run changed nothing")
        self.assertEqual(got, want, "8 Python peers differ from rumor sim")

    def test_zero_copy_and_torch(self):
        import torch
        import rumor.torch as rt
        torch.manual_seed(0)
        models = [torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Linear(4, 2))
                  for _ in range(2)]
        for m in models[1:]:
            m.load_state_dict(models[0].state_dict())
        flats = [rt.flatten(m) for m in models]
        for m, flat in zip(models, flats):
            for p in m.parameters():  # every parameter is a view into the buffer
                self.assertEqual(p.data.storage().data_ptr(), flat.storage().data_ptr())
        d = flats[0].numel()
        ext = self.scenario(f"external:{d}", rounds=5)
        topo = ring(self.tmp, 2)
        peers = [rumor.Peer(ext, topo, i, insecure=True) for i in range(2)]
        opts = [rt.GossipOptimizer(torch.optim.SGD(models[i].parameters(), lr=0.1), peers[i],
                                   common_init=True) for i in range(2)]
        for o, f in zip(opts, flats):
            self.assertEqual(o.flat.data_ptr(), f.data_ptr())

        def node(i):
            def go():
                x = torch.randn(8, 6, generator=torch.Generator().manual_seed(i))
                for _ in range(5):
                    opts[i].zero_grad()
                    models[i](x).pow(2).mean().backward()
                    before = flats[i].data_ptr()
                    opts[i].step()
                    assert flats[i].data_ptr() == before
                peers[i].close()
            return go
        start = flats[0].clone()
        run_threads([node(i) for i in range(2)])
        self.assertFalse(torch.equal(start, flats[0]))
        self.assertTrue(torch.isfinite(flats[0]).all())
        # a non-contiguous or non-float32 tensor goes through a copy, written back
        peer = rumor.Peer(self.scenario("external:6", rounds=1, **{"lambda": 0}), ring(self.tmp, 1), 0,
                          insecure=True)
        t = torch.arange(12, dtype=torch.float64).reshape(6, 2)[:, 0]
        peer.round(t)  # no neighbours: the mix keeps the model
        self.assertEqual(t.tolist(), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
        peer.close()

    def test_errors_carry_rumors_message(self):
        topo = ring(self.tmp, 2)
        with self.assertRaises(rumor.Error) as e:
            rumor.Peer(self.scenario("softmax"), topo, 0, insecure=True)
        self.assertIn("must be external:D", str(e.exception))
        self.assertLess(e.exception.code, 0)
        peer = rumor.Peer(self.scenario("external:10", rounds=1), topo, 0, insecure=True,
                          wait_s=1)
        with self.assertRaises(ValueError):
            peer.round(np.zeros(9, np.float32))
        with self.assertRaises(rumor.Error) as e:
            peer.round(np.zeros(10, np.float32))  # node 1 never comes
        self.assertIn("did not shake hands within 1 s", str(e.exception))
        peer.close()
        peer.close()  # idempotent


if __name__ == "__main__":
    unittest.main(verbosity=2)
