"""Root conftest: settings that must reach the notebooks (notebooks/) as well as tests/."""


def pytest_collectstart(collector):
    # nbval compares stderr too. Libraries print warnings there at garbage
    # collection time (aiohttp's "Unclosed connection" after a transport
    # upgrade), at moments no notebook controls: compare what cells print and
    # return, not that noise.
    if hasattr(collector, "skip_compare"):
        collector.skip_compare += ("stderr",)
