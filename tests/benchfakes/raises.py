"""A benchmark whose run fails, as one would when its service does not start."""


def run(quick: bool = False) -> list:
    raise RuntimeError("the service did not start\nsecond line of the reason")
