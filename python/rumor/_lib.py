"""ctypes bindings of rumor.h and the Peer class."""

import ctypes
import ctypes.util
import glob
import os

_SONAME = "librumor.so.1"


def _candidates():
    env = os.environ.get("RUMOR_LIBRARY")
    if env:
        yield env
    # Installed: <prefix>/lib/python3/dist-packages/rumor/ next to <prefix>/lib[/<triplet>]/.
    prefix = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "..", "..", "..", ".."))
    yield from sorted(glob.glob(os.path.join(prefix, "lib", "*", _SONAME)))
    yield os.path.join(prefix, "lib", _SONAME)
    # A source tree: python/rumor/ beside build/ (cmake -B build).
    yield os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", _SONAME)
    found = ctypes.util.find_library("rumor")
    if found:
        yield found
    yield _SONAME  # the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache)


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError("rumor: cannot load librumor (set RUMOR_LIBRARY to its path); tried "
                      + "; ".join(tried))


class _Options(ctypes.Structure):
    _fields_ = [("checkpoint_dir", ctypes.c_char_p), ("checkpoint_every", ctypes.c_uint32),
                ("metrics", ctypes.c_char_p), ("wait_s", ctypes.c_uint32),
                ("insecure", ctypes.c_int), ("reserved", ctypes.c_uint32 * 8)]


class _Edge(ctypes.Structure):
    _fields_ = [("neighbour", ctypes.c_uint32), ("down", ctypes.c_int),
                ("bytes_sent", ctypes.c_uint64), ("bytes_recv", ctypes.c_uint64),
                ("resyncs", ctypes.c_uint64), ("dropped", ctypes.c_uint64),
                ("reserved", ctypes.c_uint64 * 4)]


_lib = _load()
_ep = ctypes.c_void_p
_FLOATS = ctypes.POINTER(ctypes.c_float)
for _name, _res, _args in [
        ("rumor_version", ctypes.c_char_p, []),
        ("rumor_open", ctypes.c_int, [ctypes.POINTER(_ep), ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.c_uint32, ctypes.c_char_p,
                                      ctypes.POINTER(_Options)]),
        ("rumor_gossip_round", ctypes.c_int, [_ep, ctypes.c_void_p]),
        ("rumor_set_initial", ctypes.c_int, [_ep, ctypes.c_void_p]),
        ("rumor_dim", ctypes.c_size_t, [_ep]),
        ("rumor_round", ctypes.c_uint32, [_ep]),
        ("rumor_rounds", ctypes.c_uint32, [_ep]),
        ("rumor_id", ctypes.c_uint32, [_ep]),
        ("rumor_degree", ctypes.c_uint32, [_ep]),
        ("rumor_bytes_sent", ctypes.c_uint64, [_ep]),
        ("rumor_bytes_recv", ctypes.c_uint64, [_ep]),
        ("rumor_edge", ctypes.c_int, [_ep, ctypes.c_uint32, ctypes.POINTER(_Edge)]),
        ("rumor_last_error", ctypes.c_char_p, [_ep]),
        ("rumor_error_name", ctypes.c_char_p, [ctypes.c_int]),
        ("rumor_save", ctypes.c_int, [_ep, ctypes.c_char_p]),
        ("rumor_load", ctypes.c_int, [_ep, ctypes.c_char_p]),
        ("rumor_close", ctypes.c_int, [_ep])]:
    _fn = getattr(_lib, _name)
    _fn.restype, _fn.argtypes = _res, _args


class Error(RuntimeError):
    """A failure reported by librumor: .code is rumor's negative error code."""

    def __init__(self, code, message):
        super().__init__(message or _lib.rumor_error_name(code).decode())
        self.code = code


def version():
    """"rumor X.Y.Z", the loaded library's version."""
    return _lib.rumor_version().decode()


def _bytes(s):
    if s is None:
        return None
    return os.fsencode(s) if not isinstance(s, bytes) else s


class Peer:
    """One node of a rumor topology gossiping a caller-owned vector of D float32 values.

    scenario: a scenario file or its JSON text (model "external:D"); topology: the topology
    file (None: the scenario's); id: this node; key: its secret key file (None with
    insecure=True, on loopback, ipc:// or inproc:// only). checkpoint_dir, checkpoint_every,
    metrics and wait_s are those of rumor.h's rumor_options_t.
    """

    def __init__(self, scenario, topology, id, key=None, *, insecure=False,
                 checkpoint_dir=None, checkpoint_every=0, metrics=None, wait_s=0):
        scenario = os.fspath(scenario)
        opts = _Options(checkpoint_dir=_bytes(checkpoint_dir),
                        checkpoint_every=checkpoint_every, metrics=_bytes(metrics),
                        wait_s=wait_s, insecure=1 if insecure else 0)
        self._g = _ep()
        rc = _lib.rumor_open(ctypes.byref(self._g), scenario.encode(),
                             _bytes(topology and os.fspath(topology)), id,
                             _bytes(key and os.fspath(key)), ctypes.byref(opts))
        if rc < 0:
            raise Error(rc, _lib.rumor_last_error(None).decode())
        self.dim = _lib.rumor_dim(self._g)
        self.id = id

    def _check(self, rc):
        if rc < 0:
            raise Error(rc, _lib.rumor_last_error(self._g).decode())
        return rc

    def _handle(self):
        if not self._g:
            raise Error(-1, "rumor.Peer: the peer is closed")
        return self._g

    def set_initial(self, params):
        """Starts every public copy at params, the initial model that all peers share bit for
        bit (seed their initialisation alike); only before the first round. Without it the
        copies start at zero, which is right whatever the peers start from."""
        g = self._handle()
        ptr, _ = _pointer(params, self.dim)
        self._check(_lib.rumor_set_initial(g, ptr))

    def round(self, params):
        """One gossip round on params, in place; returns params.

        A contiguous float32 NumPy array or CPU torch tensor is passed to C as it is; other
        arrays (and lists) go through a float32 copy that is written back."""
        g = self._handle()
        ptr, writeback = _pointer(params, self.dim)
        self._check(_lib.rumor_gossip_round(g, ptr))
        if writeback is not None:
            writeback()
        return params

    @property
    def round_index(self):
        """Rounds completed."""
        return _lib.rumor_round(self._handle())

    @property
    def rounds(self):
        """The scenario's number of rounds."""
        return _lib.rumor_rounds(self._handle())

    @property
    def degree(self):
        return _lib.rumor_degree(self._handle())

    @property
    def bytes_sent(self):
        """Frame bytes sent to all neighbours."""
        return _lib.rumor_bytes_sent(self._handle())

    @property
    def bytes_recv(self):
        return _lib.rumor_bytes_recv(self._handle())

    def edges(self):
        """Per-neighbour counters: a list of dicts (neighbour, down, bytes_sent, bytes_recv,
        resyncs, dropped)."""
        g = self._handle()
        out = []
        for k in range(self.degree):
            e = _Edge()
            self._check(_lib.rumor_edge(g, k, ctypes.byref(e)))
            out.append({f: int(getattr(e, f)) for f, _ in _Edge._fields_ if f != "reserved"})
        return out

    def save(self, path):
        """Writes rumor's own state (public copies, round, RNG positions) to path."""
        self._check(_lib.rumor_save(self._handle(), os.fsencode(path)))

    def load(self, path):
        """Restores what save wrote; only before the first round."""
        self._check(_lib.rumor_load(self._handle(), os.fsencode(path)))

    def close(self):
        """Says BYE to the neighbours and frees the peer (idempotent)."""
        if self._g:
            g, self._g = self._g, _ep()
            rc = _lib.rumor_close(g)
            if rc < 0:
                raise Error(rc, _lib.rumor_last_error(None).decode())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_g", None):
            _lib.rumor_close(self._g)


def _pointer(params, dim):
    """(a pointer to dim float32 values, None) for a buffer usable in place, or (a pointer
    into a float32 copy, a function that writes the copy back)."""
    mod = type(params).__module__
    if mod.startswith("torch"):
        import torch
        if (params.dtype == torch.float32 and params.device.type == "cpu"
                and params.is_contiguous() and params.numel() == dim):
            return ctypes.c_void_p(params.data_ptr()), None
        copy = params.detach().to("cpu", torch.float32).contiguous().reshape(-1)
        _size(copy.numel(), dim)

        def back():
            with torch.no_grad():
                params.copy_(copy.reshape(params.shape))
        return ctypes.c_void_p(copy.data_ptr()), back
    import numpy as np
    if (isinstance(params, np.ndarray) and params.dtype == np.float32
            and params.flags.c_contiguous and params.flags.writeable):
        _size(params.size, dim)
        return ctypes.c_void_p(params.ctypes.data), None
    copy = np.ascontiguousarray(params, dtype=np.float32).reshape(-1).copy()
    _size(copy.size, dim)

    def back():
        if isinstance(params, np.ndarray):
            params[...] = copy.reshape(params.shape)
        else:
            params[:] = copy.tolist()
    return ctypes.c_void_p(copy.ctypes.data), back


def _size(n, dim):
    if n != dim:
        raise ValueError(f"rumor: the parameters have {n} values; the scenario's model is "
                         f"external:{dim}")
