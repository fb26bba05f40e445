// A rule row shows only the fields of its type. The type select carries the map
// (data-type-fields: type -> field names, data-typed-fields: every field the map names),
// rendered by the server from the rule types' registry (lms.form_fields.show_fields_by_type).
(function () {
  "use strict";

  function rowOf(select) {
    // Django's stacked inline is .inline-related, unfold's a .form-group; tabular ones a <tr>.
    return select.closest(".inline-related, .form-group, tr");
  }

  function wrapperOf(input, row) {
    if (row.tagName === "TR") {
      // The tabular inline: the row's own cell holding the input (a rows widget has cells of its own).
      var cell = input;
      while (cell && cell.parentElement !== row) cell = cell.parentElement;
      return cell;
    }
    // The stacked inline: the nearest block holding this field's label and input.
    var node = input.parentElement;
    while (node && node !== row) {
      if (node.querySelector("label") && node.parentElement && node.parentElement.children.length > 1) return node;
      node = node.parentElement;
    }
    return null;
  }

  function fieldInputs(row, prefix, name) {
    return row.querySelectorAll(
      '[name="' + prefix + name + '"], [name^="' + prefix + name + '-"], [data-field="' + prefix + name + '"]'
    );
  }

  function apply(select) {
    var byType = JSON.parse(select.dataset.typeFields || "{}");
    var every = JSON.parse(select.dataset.typedFields || "[]");
    var prefix = select.name.slice(0, select.name.lastIndexOf("-") + 1);
    var row = rowOf(select);
    if (!row) return;
    var shown = byType[select.value] || every;
    every.forEach(function (name) {
      var seen = [];
      fieldInputs(row, prefix, name).forEach(function (input) {
        var wrapper = wrapperOf(input, row);
        if (!wrapper || seen.indexOf(wrapper) >= 0) return;
        seen.push(wrapper);
        var hide = shown.indexOf(name) < 0;
        if (wrapper.tagName === "TD") {
          Array.prototype.forEach.call(wrapper.children, function (child) {
            child.style.visibility = hide ? "hidden" : "";
          });
        } else {
          wrapper.style.display = hide ? "none" : "";
        }
      });
    });
  }

  function applyAll(root) {
    (root || document).querySelectorAll("select[data-type-fields]").forEach(apply);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-type-fields]")) apply(event.target);
  });
  document.addEventListener("formset:added", function (event) {
    applyAll(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    applyAll();
  });
})();
