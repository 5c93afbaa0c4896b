"""PyTorch helpers: one flat parameter buffer per model, and an optimizer that gossips.

    flat = rumor.torch.flatten(model)           # every parameter is now a view into flat
    opt = rumor.torch.GossipOptimizer(torch.optim.SGD(model.parameters(), lr=0.05), peer)
    for x, y in batches:
        opt.zero_grad(); loss_fn(model(x), y).backward()
        opt.step()                              # the SGD step, then peer.round(flat)
"""

import torch as _torch


def flatten(model):
    """Moves every parameter of model (a torch.nn.Module, or an iterable of parameters) into
    one contiguous float32 CPU buffer and makes each parameter a view into it, so that a
    gossip round on the buffer reads and writes the model without a copy. Returns the buffer
    (its length is the scenario's D); parameters keep their values and their order."""
    params = list(model.parameters() if hasattr(model, "parameters") else model)
    if not params:
        raise ValueError("rumor.torch.flatten: the model has no parameters")
    for p in params:
        if p.device.type != "cpu" or p.dtype != _torch.float32:
            raise ValueError("rumor.torch.flatten: parameters must be float32 on the CPU, got "
                             f"{p.dtype} on {p.device}")
    flat = _torch.empty(sum(p.numel() for p in params), dtype=_torch.float32)
    at = 0
    with _torch.no_grad():
        for p in params:
            n = p.numel()
            view = flat[at:at + n].view_as(p)
            view.copy_(p)
            p.data = view
            at += n
    return flat


def buffer_of(params):
    """The flat buffer that flatten() made params views into, or None when they are not
    contiguous float32 views laid end to end over the whole of one storage, in order."""
    params = list(params)
    if not params:
        return None
    storage = params[0].data.storage()
    at = 0
    for p in params:
        if (p.dtype != _torch.float32 or not p.data.is_contiguous()
                or p.data.storage().data_ptr() != storage.data_ptr()
                or p.data.storage_offset() != at):
            return None
        at += p.numel()
    if storage.size() != at:
        return None
    return _torch.empty(0, dtype=_torch.float32).set_(storage, 0, (at,), (1,))


class GossipOptimizer:
    """Wraps a torch optimizer: step() runs its step, then a gossip round of peer on the
    model's flat buffer (made by flatten(), or made here from the optimizer's parameters).
    With common_init (every peer seeded its model alike), the model as it is now becomes the
    starting point of the public copies (Peer.set_initial). Everything else is the wrapped
    optimizer's."""

    def __init__(self, optimizer, peer, flat=None, common_init=False):
        self.optimizer = optimizer
        self.peer = peer
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.flat = flat if flat is not None else buffer_of(params)
        if self.flat is None:
            self.flat = flatten(params)
        if self.flat.numel() != peer.dim:
            raise ValueError(f"rumor.torch.GossipOptimizer: the model has {self.flat.numel()} "
                             f"parameters; the scenario's model is external:{peer.dim}")
        if common_init:
            peer.set_initial(self.flat)

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        loss = self.optimizer.step(closure)
        self.peer.round(self.flat)
        return loss

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state)
