import torch

import transformer_lib as tl
from transformer_lib.tools import checks

CASES = checks.random_cases([("2 queries, 3 keys", ((2, 4), (3, 4))), ("1 query", ((1, 4), (1, 4)))])


def reference(q, k):
    return tl.scaled_dot_product_attention(q, k, k)[1]


def test_pass_message():
    result = checks.check_function(lambda q, k: torch.softmax(q @ k.T / 2, -1), reference, CASES, name="weights")
    assert result and "all 2 cases" in repr(result)


def test_not_implemented_hint():
    def weights(q, k):
        raise NotImplementedError

    result = checks.check_function(weights, reference, CASES)
    assert not result and "not implemented yet" in result.message


def test_shape_dtype_value_and_none_hints():
    assert (
        "shape (3, 2), expected (2, 3)"
        in checks.check_function(lambda q, k: reference(q, k).T, reference, CASES).message
    )
    bad_dtype = checks.check_function(lambda q, k: reference(q, k).double(), reference, CASES)
    assert "dtype torch.float64" in bad_dtype.message
    no_scale = checks.check_function(lambda q, k: torch.softmax(q @ k.T, -1), reference, CASES)
    assert "2 queries, 3 keys" in no_scale.message and "largest difference" in no_scale.message
    assert "forget to `return`" in checks.check_function(lambda q, k: None, reference, CASES).message


def test_exception_becomes_hint():
    result = checks.check_function(lambda q, k: q @ k, reference, CASES)
    assert not result and "raised RuntimeError" in result.message


def test_bool_and_value_checks():
    mask = tl.subsequent_mask(3)
    wrong = checks.check_value(mask.T, mask, name="mask")
    assert not wrong and "first at index (0, 1)" in wrong.message
    assert checks.check_value(mask.clone(), mask)
    assert "no answer yet" in checks.check_value(..., mask).message
    assert checks.check_value(0.5, 0.5) and not checks.check_value(0.6, 0.5)


def test_student_cannot_change_reference_inputs():
    def in_place(q, k):
        q.zero_()
        return reference(q, k)

    assert not checks.check_function(in_place, reference, CASES)
