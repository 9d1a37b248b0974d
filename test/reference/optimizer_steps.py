# Produces the expected values of src/train/optimizer.test.ts with PyTorch (Debian python3-torch 1.13):
#   /usr/bin/python3 test/reference/optimizer_steps.py
# Two parameters in two groups (decay 0.01 and 0), four steps with fixed gradients and a learning rate
# changed after the second step, for SGD(momentum .937, nesterov), Adam and AdamW (betas .937, .999).
import json
import torch

torch.set_default_dtype(torch.float64)
out = {}
grads = [[[0.5, -1.0, 2.0], [0.25]], [[-0.3, 0.7, 0.1], [-1.5]], [[1.0, 1.0, -2.0], [0.5]], [[0.2, -0.4, 0.6], [2.0]]]
for name in ['sgd', 'adam', 'adamw']:
    w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    b = torch.tensor([0.3], requires_grad=True)
    groups = [{'params': [w], 'weight_decay': 0.01}, {'params': [b], 'weight_decay': 0.0}]
    if name == 'sgd':
        opt = torch.optim.SGD(groups, lr=0.1, momentum=0.937, nesterov=True)
    elif name == 'adam':
        opt = torch.optim.Adam(groups, lr=0.1, betas=(0.937, 0.999))
    else:
        opt = torch.optim.AdamW(groups, lr=0.1, betas=(0.937, 0.999))
    for i, (gw, gb) in enumerate(grads):
        if i == 2:
            for g in opt.param_groups:
                g['lr'] = 0.05
        w.grad = torch.tensor(gw)
        b.grad = torch.tensor(gb)
        opt.step()
    out[name] = {'w': w.tolist(), 'b': b.tolist()}
print(json.dumps(out))
