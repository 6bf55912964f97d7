"""Small scripts and the checkpoints they load, shared by the LSP tests."""

NET = '''import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, {out})

    def forward(self, x):
        return self.fc2(self.fc1(x))


model = Net()
model.load_state_dict(torch.load("model.pth"){extra})
'''


def net_script(out: int = 4, extra: str = "") -> str:
    return NET.format(out=out, extra=extra)


def save_net(out: int = 3, name: str = "model.pth", wrap: str = "sd") -> str:
    """Code that saves a Net(fc2 out=`out`) state dict; `wrap` is an expression over `sd`."""
    return f'''import torch
import torch.nn as nn
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, {out})
sd = Net().state_dict()
torch.save({wrap}, {name!r})
'''


HELD = '''import os
import time

import torch
import torch.nn as nn

HOLD = {hold!r}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        while os.path.exists(HOLD):  # a test holds the build here
            time.sleep(0.005)
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, {out})


model = Net()
model.load_state_dict(torch.load("model.pth"))
'''


def held_script(hold: str, out: int = 4) -> str:
    """net_script's model, built only by the worker (static inference does not follow the
    run-time loop in its constructor), which waits there while the file `hold` exists."""
    return HELD.format(hold=hold, out=out)
