"""``python -m protok.training CONFIG [--resume] [--set KEY=VALUE ...]`` (e.g. under ``torchrun``)."""

from protok.cli.train_cmd import train_cmd

if __name__ == "__main__":
    train_cmd(prog_name="python -m protok.training")
