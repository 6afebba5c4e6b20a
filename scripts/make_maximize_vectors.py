#!/usr/bin/env python3
"""Prints what PyTorch 1.13's optimizers compute with maximize=True: two steps on set gradients of one
2x3 parameter. tests/torch/catalog_optimizers_test.cpp (CatalogMaximize.MatchesPyTorch) holds the values.
Run with a Python that has torch (on this machine /usr/bin/python3)."""
import torch
p0 = torch.tensor([[0.5, -1.0, 2.0], [0.3, 0.1, -0.4]])
g = [torch.tensor([[0.2, -0.1, 0.4], [-0.3, 0.05, 0.6]]), torch.tensor([[-0.1, 0.3, 0.2], [0.25, -0.2, 0.1]])]
cfgs = {
 'SGD': (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.5, nesterov=True)),
 'Adam': (torch.optim.Adam, dict(lr=0.1, weight_decay=0.5, amsgrad=True)),
 'AdamW': (torch.optim.AdamW, dict(lr=0.1, weight_decay=0.5)),
 'RMSprop': (torch.optim.RMSprop, dict(lr=0.1, weight_decay=0.5, momentum=0.5, centered=True)),
 'Adagrad': (torch.optim.Adagrad, dict(lr=0.1, weight_decay=0.5, lr_decay=0.1)),
}
for name,(cls,kw) in cfgs.items():
    p = p0.clone().requires_grad_()
    o = cls([p], maximize=True, **kw)
    for gi in g:
        p.grad = gi.clone(); o.step()
    print(name, [float('%.9g' % v) for v in p.detach().flatten().tolist()])
