import pytest

from segments.criteria import PRODUCT, USER, catalogue, unregister_field


@pytest.fixture
def scratch_registry():
    """Fields a test registers disappear with it (the catalogue is process-wide)."""
    before = {kind: {definition.name for definition in catalogue(kind)} for kind in (USER, PRODUCT)}
    yield
    for kind, names in before.items():
        for definition in catalogue(kind):
            if definition.name not in names:
                unregister_field(kind, definition.name)
