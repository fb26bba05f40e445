/* The segment criteria builder (segments/admin/builder.py renders its catalogue into the page).
 *
 * The form's value stays the criteria textarea: every change in the builder writes the tree
 * into it as JSON ({"all": [...]}, {"any": [...]}, {"not": {...}} or a condition
 * {"field", "op", "value", "window_days"?}), and editing the JSON (for experts) redraws the
 * builder. Each change asks the console for a live count and sample (debounced).
 */
(function () {
  "use strict";

  var LISTS = ["in", "not_in", "any_of", "none_of"];
  var GROUP_WORDS = { all: "All of these are true", any: "Any of these is true", not: "Not (all of these)" };
  var UNIT_WORDS = { INR: "₹ (rupees)" };
  var KIND_WORDS = { USER: ["customer", "customers"], PRODUCT: ["product", "products"] };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "class") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function option(value, label, selected) {
    var node = el("option", { value: value, text: label });
    if (selected) node.selected = true;
    return node;
  }

  // --- The tree as the builder holds it, and as JSON -------------------------------------

  function group(op, children) { return { type: "group", op: op, children: children || [] }; }

  function fromJson(node) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return null;
    if (Array.isArray(node.all)) return group("all", node.all.map(fromJson).filter(Boolean));
    if (Array.isArray(node.any)) return group("any", node.any.map(fromJson).filter(Boolean));
    if ("not" in node) {
      var inner = node.not;
      if (inner && Array.isArray(inner.all)) return group("not", inner.all.map(fromJson).filter(Boolean));
      var child = fromJson(inner);
      return group("not", child ? [child] : []);
    }
    var window = node.window_days === undefined ? null : node.window_days;
    return { type: "condition", field: node.field, op: node.op, value: node.value, window: window };
  }

  function rootFrom(json) {
    var model = fromJson(json);
    if (!model) return group("all");
    return model.type === "condition" ? group("all", [model]) : model;
  }

  function toJson(model) {
    if (model.type === "condition") {
      var condition = { field: model.field, op: model.op, value: model.value };
      if (model.window !== null && model.window !== "" && model.window !== undefined) condition.window_days = model.window;
      return condition;
    }
    var children = model.children.map(toJson);
    if (model.op === "not") return { not: children.length === 1 ? children[0] : { all: children } };
    var out = {};
    out[model.op] = children;
    return out;
  }

  // The validation path of each node (criteria.all[1].any[0]), to point at a bad row.
  function childPath(model, path, index) {
    if (model.op !== "not") return path + "." + model.op + "[" + index + "]";
    return model.children.length === 1 ? path + ".not" : path + ".not.all[" + index + "]";
  }

  function shape(definition, op) {
    if (op === "between") return "pair";
    if (LISTS.indexOf(op) >= 0) return "list";
    return "one";
  }

  function typed(definition, raw) {
    var text = String(raw).trim();
    if (text === "") return "";
    if (definition.value_type === "integer" || definition.value_type === "id_list") {
      var number = Number(text);
      return Number.isInteger(number) ? number : text; // not whole: the server says so in words
    }
    return text; // decimals as text keep their digits; dates are YYYY-MM-DD
  }

  function init(root) {
    var config = JSON.parse(document.getElementById(root.dataset.config).textContent);
    var textarea = document.getElementById(root.dataset.input);
    var treeBox = root.querySelector("[data-role=tree]");
    var rawBox = root.querySelector("[data-role=raw]");
    var rawError = root.querySelector("[data-role=raw-error]");
    var rawToggle = root.querySelector("[data-testid=criteria-raw-toggle]");
    var countBox = root.querySelector("[data-testid=criteria-preview-count]");
    var messageBox = root.querySelector("[data-testid=criteria-preview-message]");
    var sampleBox = root.querySelector("[data-testid=criteria-preview-sample]");
    var form = textarea.form;
    var kindSelect = form && form.querySelector("select[name=kind]");
    var typeSelect = form && form.querySelector("select[name=type]");
    var state = null;
    var timer = null;
    var asked = 0;

    rawBox.hidden = true;

    function kind() { return (kindSelect && kindSelect.value) || textarea.dataset.kind || "USER"; }
    function isStatic() { return ((typeSelect && typeSelect.value) || textarea.dataset.type) === "STATIC"; }
    function fields() { return config.fields[kind()] || []; }
    function fieldOf(name) {
      return fields().filter(function (f) { return f.field === name; })[0] || null;
    }

    // --- Values typed by the field ---------------------------------------------------------

    function defaultValue(definition, op) {
      if (!definition) return "";
      var kindOf = shape(definition, op);
      if (definition.value_type === "boolean") return true;
      if (kindOf === "pair") return ["", ""];
      if (kindOf === "list") return [];
      if (definition.choices.length) return definition.choices[0];
      return "";
    }

    function inputFor(definition, value, onChange, bound) {
      var type = definition.value_type;
      var attrs = { "data-testid": "criteria-value", class: config.classes.input + " criteria-input" };
      if (bound) attrs["data-bound"] = bound;
      var input;
      if (type === "boolean") {
        input = el("select", Object.assign(attrs, { class: config.classes.select }), [
          option("true", "Yes", value === true), option("false", "No", value === false),
        ]);
        input.addEventListener("change", function () { onChange(input.value === "true"); });
        return input;
      }
      if (definition.choices.length) {
        input = el("select", Object.assign(attrs, { class: config.classes.select }), definition.choices.map(function (c) {
          return option(c, config.choice_labels[c] || c, c === value);
        }));
        input.addEventListener("change", function () { onChange(input.value); });
        return input;
      }
      attrs.type = type === "date" ? "date" : type === "integer" || type === "decimal" ? "number" : "text";
      if (type === "integer") attrs.step = "1";
      if (type === "decimal") attrs.step = "any";
      if (definition.min_value !== null && attrs.type === "number") attrs.min = definition.min_value;
      if (definition.max_value !== null && attrs.type === "number") attrs.max = definition.max_value;
      input = el("input", attrs);
      input.value = value === null || value === undefined ? "" : value;
      input.addEventListener("input", function () { onChange(typed(definition, input.value)); });
      return input;
    }

    function listInput(definition, value, onChange) {
      var source = config.id_choices[definition.field];
      var choices = source ? config.options[source].map(function (o) { return [String(o.id), o.name]; })
        : definition.choices.map(function (c) { return [c, config.choice_labels[c] || c]; });
      var list = Array.isArray(value) ? value : [];
      if (choices.length) {
        var select = el("select", { multiple: "multiple", size: "4", "data-testid": "criteria-value", class: config.classes.select + " criteria-multi" },
          choices.map(function (c) { return option(c[0], c[1], list.map(String).indexOf(c[0]) >= 0); }));
        select.addEventListener("change", function () {
          onChange(Array.prototype.filter.call(select.options, function (o) { return o.selected; }).map(function (o) {
            return definition.value_type === "id_list" ? Number(o.value) : o.value;
          }));
        });
        return select;
      }
      var hint = definition.value_type === "id_list" ? "ids, separated by commas" : "values, separated by commas";
      var input = el("input", { type: "text", placeholder: hint, "data-testid": "criteria-value", class: config.classes.input + " criteria-input" });
      input.value = list.join(", ");
      input.addEventListener("input", function () {
        onChange(input.value.split(",").map(function (part) { return typed(definition, part); }).filter(function (part) { return part !== ""; }));
      });
      return input;
    }

    function valueControls(definition, condition) {
      var box = el("span", { class: "criteria-value" });
      if (!definition) return box;
      var kindOf = shape(definition, condition.op);
      function set(value) { condition.value = value; changed(); }
      if (kindOf === "list") {
        box.appendChild(listInput(definition, condition.value, set));
      } else if (kindOf === "pair") {
        var pair = Array.isArray(condition.value) ? condition.value.slice() : ["", ""];
        box.appendChild(inputFor(definition, pair[0], function (v) { pair[0] = v; set(pair.slice()); }, "low"));
        box.appendChild(el("span", { class: "criteria-word", text: "and" }));
        box.appendChild(inputFor(definition, pair[1], function (v) { pair[1] = v; set(pair.slice()); }, "high"));
      } else {
        box.appendChild(inputFor(definition, condition.value, set));
      }
      if (definition.unit && definition.value_type !== "boolean") box.appendChild(el("span", { class: "criteria-word", text: UNIT_WORDS[definition.unit] || definition.unit }));
      return box;
    }

    // --- Drawing ---------------------------------------------------------------------------

    function fieldSelect(condition) {
      var select = el("select", { "data-testid": "criteria-field", class: config.classes.select, "aria-label": "Field" });
      var groups = {};
      if (!fieldOf(condition.field)) select.appendChild(option("", condition.field ? "Unknown field: " + condition.field : "Choose a field", true));
      fields().forEach(function (definition) {
        var name = config.groups[definition.group] || definition.group;
        if (!groups[name]) { groups[name] = el("optgroup", { label: name }); select.appendChild(groups[name]); }
        var node = option(definition.field, definition.label, definition.field === condition.field);
        if (definition.help) node.title = definition.help;
        groups[name].appendChild(node);
      });
      select.addEventListener("change", function () {
        var definition = fieldOf(select.value);
        condition.field = select.value;
        condition.op = definition ? definition.operators[0] : "";
        condition.value = defaultValue(definition, condition.op);
        condition.window = definition && definition.window === "required" ? definition.default_window_days : null;
        redraw();
      });
      return select;
    }

    function operatorSelect(definition, condition) {
      var select = el("select", { "data-testid": "criteria-operator", class: config.classes.select, "aria-label": "Comparison" });
      (definition ? definition.operators : []).forEach(function (op) {
        select.appendChild(option(op, config.operators[op] || op, op === condition.op));
      });
      select.addEventListener("change", function () {
        var before = shape(definition, condition.op);
        condition.op = select.value;
        if (shape(definition, condition.op) !== before) condition.value = defaultValue(definition, condition.op);
        redraw();
      });
      return select;
    }

    function windowControls(definition, condition) {
      if (!definition || definition.window === "none") return null;
      var input = el("input", {
        type: "number", min: "1", step: "1", "data-testid": "criteria-window", "aria-label": "Window in days",
        placeholder: definition.window === "optional" ? "all time" : String(definition.default_window_days || ""),
        class: config.classes.input + " criteria-days",
      });
      input.value = condition.window === null || condition.window === undefined ? "" : condition.window;
      input.addEventListener("input", function () {
        var days = typed({ value_type: "integer" }, input.value);
        condition.window = days === "" ? null : days;
        changed();
      });
      return el("span", { class: "criteria-window" }, [el("span", { class: "criteria-word", text: "in the last" }), input, el("span", { class: "criteria-word", text: "days" })]);
    }

    function conditionRow(condition, parent, path) {
      var definition = fieldOf(condition.field);
      var remove = el("button", { type: "button", "data-testid": "criteria-remove", class: "criteria-link", text: "Remove", "aria-label": "Remove this condition" });
      remove.addEventListener("click", function () { parent.children.splice(parent.children.indexOf(condition), 1); redraw(); });
      var row = el("div", { class: "criteria-condition", "data-testid": "criteria-condition", "data-path": path }, [
        fieldSelect(condition), operatorSelect(definition, condition), valueControls(definition, condition),
        windowControls(definition, condition), remove,
      ]);
      if (definition && definition.help) row.appendChild(el("p", { class: "criteria-help", text: definition.help }));
      return row;
    }

    function groupBox(model, parent, path) {
      var op = el("select", { "data-testid": "criteria-group-op", class: config.classes.select + " criteria-group-op", "aria-label": "Match" },
        ["all", "any", "not"].map(function (key) { return option(key, GROUP_WORDS[key], key === model.op); }));
      op.addEventListener("change", function () { model.op = op.value; redraw(); });
      var addCondition = el("button", { type: "button", "data-testid": "criteria-add-condition", class: "criteria-link", text: "+ Add a condition" });
      addCondition.addEventListener("click", function () {
        model.children.push({ type: "condition", field: "", op: "", value: "", window: null });
        redraw();
      });
      var addGroup = el("button", { type: "button", "data-testid": "criteria-add-group", class: "criteria-link", text: "+ Add a group" });
      addGroup.addEventListener("click", function () { model.children.push(group("any")); redraw(); });
      var head = el("div", { class: "criteria-group-head" }, [op]);
      if (parent) {
        var remove = el("button", { type: "button", "data-testid": "criteria-remove-group", class: "criteria-link", text: "Remove group" });
        remove.addEventListener("click", function () { parent.children.splice(parent.children.indexOf(model), 1); redraw(); });
        head.appendChild(remove);
      }
      var list = el("div", { class: "criteria-children" });
      model.children.forEach(function (child, index) {
        var at = childPath(model, path, index);
        list.appendChild(child.type === "group" ? groupBox(child, model, at) : conditionRow(child, model, at));
      });
      if (!model.children.length) list.appendChild(el("p", { class: "criteria-help", text: "No conditions yet." }));
      return el("div", { class: "criteria-group", "data-testid": "criteria-group", "data-path": path }, [
        head, list, el("div", { class: "criteria-actions" }, [addCondition, addGroup]),
      ]);
    }

    function redraw() {
      treeBox.innerHTML = "";
      treeBox.appendChild(groupBox(state, null, "criteria"));
      changed();
    }

    // --- Keeping the field and the count in step -------------------------------------------

    function changed() {
      if (isStatic()) return;
      textarea.value = JSON.stringify(toJson(state), null, 2);
      rawError.textContent = "";
      clearTimeout(timer);
      timer = setTimeout(preview, 600);
    }

    function csrfToken() {
      var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
      return input ? input.value : "";
    }

    function showError(message, path) {
      countBox.textContent = "";
      messageBox.textContent = message;
      messageBox.classList.add("criteria-error");
      sampleBox.innerHTML = "";
      root.querySelectorAll(".criteria-bad").forEach(function (node) { node.classList.remove("criteria-bad"); });
      if (!path) return;
      var best = null;
      root.querySelectorAll("[data-path]").forEach(function (node) {
        var at = node.dataset.path;
        var next = path.charAt(at.length);
        if (path.indexOf(at) === 0 && (next === "" || next === "." || next === "[") && (!best || at.length > best.dataset.path.length)) best = node;
      });
      if (best) best.classList.add("criteria-bad");
    }

    function preview() {
      var ticket = ++asked;
      var body = JSON.stringify({ kind: kind(), criteria: toJson(state) });
      messageBox.classList.remove("criteria-error");
      messageBox.textContent = "Counting…";
      fetch(config.preview_url, {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (answer) {
        if (ticket !== asked) return; // a later change is being counted
        if (!answer.ok) return showError(answer.data.message || "The count is unavailable.", answer.data.details && answer.data.details.path);
        root.querySelectorAll(".criteria-bad").forEach(function (node) { node.classList.remove("criteria-bad"); });
        var words = KIND_WORDS[kind()] || ["member", "members"];
        countBox.textContent = answer.data.count.toLocaleString("en-IN");
        messageBox.textContent = (answer.data.count === 1 ? words[0] + " matches" : words[1] + " match") + " now" + (answer.data.sample.length ? ", for example:" : ".");
        sampleBox.innerHTML = "";
        answer.data.sample.forEach(function (member) { sampleBox.appendChild(el("li", { text: member.label })); });
      }).catch(function () {
        if (ticket === asked) showError("The count is unavailable right now.");
      });
    }

    function readRaw() {
      var text = textarea.value.trim();
      if (!text || text === "null") { state = group("all"); redraw(); return; }
      try {
        state = rootFrom(JSON.parse(text));
      } catch (error) {
        rawError.textContent = "The JSON is not valid: " + error.message;
        return;
      }
      treeBox.innerHTML = "";
      treeBox.appendChild(groupBox(state, null, "criteria"));
      rawError.textContent = "";
      clearTimeout(timer);
      timer = setTimeout(preview, 600);
    }

    function showForType() {
      var hidden = isStatic();
      root.hidden = hidden;
      if (hidden) textarea.value = "";
      else if (!textarea.value.trim()) redraw();
    }

    rawToggle.addEventListener("click", function () {
      rawBox.hidden = !rawBox.hidden;
      rawToggle.setAttribute("aria-expanded", String(!rawBox.hidden));
      rawToggle.textContent = rawBox.hidden ? "Show the criteria as JSON (for experts)" : "Hide the JSON";
    });
    textarea.addEventListener("change", readRaw);
    if (kindSelect) kindSelect.addEventListener("change", function () { state = group("all"); redraw(); });
    if (typeSelect) typeSelect.addEventListener("change", showForType);

    readRaw();
    showForType();
  }

  function start() { document.querySelectorAll("[data-testid=criteria-builder]").forEach(init); }

  // The tree's conversions, for tests (segments/tests/test_criteria_builder.py runs them in Node).
  var api = { fromJson: fromJson, rootFrom: rootFrom, toJson: toJson, childPath: childPath, typed: typed };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (typeof document === "undefined") return;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
