from __future__ import annotations

import inspect

import clubcore.errors as errors


def exception_classes() -> list[type[BaseException]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == errors.__name__
    ]


def test_every_error_is_in_all_and_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    for cls in exception_classes():
        assert cls.__name__ in errors.__all__, cls
        assert f" {cls.__name__} " in doc.replace("\n", " \n"), f"{cls.__name__} not in the tree"
    assert sorted(errors.__all__) == sorted(c.__name__ for c in exception_classes())


def test_every_error_derives_from_club_error() -> None:
    for cls in exception_classes():
        assert issubclass(cls, errors.ClubError)


def test_tree_parents_match_the_drawing() -> None:
    assert issubclass(errors.UnknownProductError, errors.NotFoundError)
    assert issubclass(errors.RedemptionError, errors.CheckoutError)
    assert issubclass(errors.CardIOError, errors.ReaderError)
    assert issubclass(errors.MigrationError, errors.StoreError)
    assert not issubclass(errors.FormatError, errors.UserFacingError)


def test_user_facing_error_shows_its_hint() -> None:
    exc = errors.ConfigError("currency", "unknown currency 'XYZ'", hint="use IRR or IRT")
    assert exc.key == "currency"
    assert str(exc) == "currency: unknown currency 'XYZ' (use IRR or IRT)"
