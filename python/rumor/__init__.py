"""rumor: compressed, encrypted gossip for a model you train yourself.

A thin ctypes layer over librumor's C API (rumor.h); nothing to compile. One Peer is one node
of a rumor topology whose scenario's model is "external:D":

    import rumor
    peer = rumor.Peer("scenario.json", "topology.json", id, "node3.key")
    for step in range(peer.rounds):
        local_step(params)        # your own SGD step(s) on a float32 buffer of D values
        peer.round(params)        # compress, exchange with the neighbours, mix, prox: in place
    peer.close()

params may be a contiguous float32 NumPy array or CPU torch tensor (used in place, no copy)
or anything else with D floats (copied in and out). rumor.torch adds flatten() and
GossipOptimizer for torch training loops. Errors from the library raise rumor.Error with
rumor's message.
"""

from ._lib import Error, Peer, version

__all__ = ["Error", "Peer", "version"]
