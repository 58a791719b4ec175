// Aligned outputs (a table of numbers, a row of tokens over their predictions, a printed source file)
// keep their lines: they are never wrapped (book.css). Where one is wider than the column, its font is
// made smaller until it fits, down to 60 % of the outputs' size and 8 px at least; narrower than that
// (a phone), the output scrolls sideways inside its box. The cells are tagged `aligned-output` in the
// notebooks (tests/test_book.py finds the outputs that need it). Printing (the PDF) uses these sizes.
(function () {
  function fitOne(pre) {
    pre.style.fontSize = "";
    var size = parseFloat(getComputedStyle(pre).fontSize);
    var smallest = Math.max(size * 0.6, 8);
    while (pre.scrollWidth > pre.clientWidth + 1 && size > smallest) {
      size = Math.max(smallest, size * Math.min(0.97, pre.clientWidth / pre.scrollWidth));
      pre.style.fontSize = size + "px";
    }
  }
  function fit() {
    document.querySelectorAll(".tag_aligned-output div.cell_output pre").forEach(function (pre) {
      fitOne(pre);
      // the column can change width after this (math typeset, a scroll bar, the window): fit again
      if (window.ResizeObserver && !pre.dataset.fitted) {
        pre.dataset.fitted = "1";
        var width = pre.clientWidth;
        new ResizeObserver(function () {
          if (pre.clientWidth !== width) {
            width = pre.clientWidth;
            fitOne(pre);
          }
        }).observe(pre);
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fit);
  } else {
    fit();
  }
  window.addEventListener("load", fit);
  window.addEventListener("beforeprint", fit);
})();
