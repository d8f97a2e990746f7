"""Golden tests: the numbers Deep Learning from Scratch prints in chapter 5."""

from __future__ import annotations

from bpcalc import load
from bpcalc.ops.layers import AddLayer, MulLayer
from tests.conftest import GRAPHS, Invoke


class TestBookNumbers:
    def test_apple_graph_gives_the_books_numbers(self) -> None:
        """5.4.1: price 220, dApple 2.2, dApple_num 110, dTax 200."""
        result = load(GRAPHS / "apple.yaml").evaluate()
        assert int(result.values["price"]) == 220
        assert result.grads["apple"] == 2.2
        assert int(result.grads["apple_num"]) == 110
        assert result.grads["tax"] == 200

    def test_apple_orange_graph_gives_the_books_numbers(self) -> None:
        """5.4.2: price 715, dApple 2.2, dApple_num 110, dOrange 3.3000000000000003, ..."""
        result = load(GRAPHS / "apple_orange.yaml").evaluate()
        assert int(result.values["price"]) == 715
        assert result.grads["apple"] == 2.2
        assert int(result.grads["apple_num"]) == 110
        assert repr(result.grads["orange"]) == "3.3000000000000003"
        assert int(result.grads["orange_num"]) == 165
        assert result.grads["tax"] == 650

    def test_engine_matches_the_books_hand_written_layer_calls_bit_for_bit(self) -> None:
        """The graph computes exactly what the book's buy_apple_orange.py computes."""
        mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
        all_price = add.forward(mul_apple.forward(100, 2), mul_orange.forward(150, 3))
        price = mul_tax.forward(all_price, 1.1)
        dall_price, dtax = mul_tax.backward(1)
        dapple_price, dorange_price = add.backward(dall_price)
        dorange, dorange_num = mul_orange.backward(dorange_price)
        dapple, dapple_num = mul_apple.backward(dapple_price)

        result = load(GRAPHS / "apple_orange.yaml").evaluate()
        assert result.values["price"] == price
        assert (result.grads["apple"], result.grads["apple_num"]) == (dapple, dapple_num)
        assert (result.grads["orange"], result.grads["orange_num"]) == (dorange, dorange_num)
        assert result.grads["tax"] == dtax


class TestBookNumbersThroughTheCli:
    def test_grad_in_a_pipe_prints_the_bare_number(self, invoke: Invoke) -> None:
        """`bpcalc grad --wrt apple` prints 2.2 and nothing else into a pipe."""
        result = invoke("grad", "apple_orange", "--wrt", "apple")
        assert result.exit_code == 0
        assert result.stdout == "2.2\n"
        assert result.stderr == ""

    def test_run_in_a_pipe_prints_lossless_tsv(self, invoke: Invoke) -> None:
        """Piped `run` writes name, value and gradient as TSV with every digit."""
        result = invoke("run", "apple_orange")
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert lines[0] == "apple\t100.0\t2.2"
        assert "orange\t150.0\t3.3000000000000003" in lines
        assert lines[-1] == "price\t715.0000000000001\t1.0"
