"""``segquality models``: list the segmenters, whether each can run here, and why not."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the segmentation models and whether they can run here",
        description="List the segmenters `segquality segment --model` accepts, with availability and reason.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..segmenters.registry import available_models

    infos = available_models()
    width = max(len(info.name) for info in infos)
    for info in infos:
        status = "available" if info.available else "unavailable"
        print(f"{info.name:<{width}}  {status:<11}  {info.description}")
        print(f"{'':<{width}}  {'':<11}  ({info.reason})")
    return 0
