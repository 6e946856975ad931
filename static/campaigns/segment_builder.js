// The segment rule builder (campaigns/admin/segment.py, SegmentAdmin): draws the rule tree
// held as JSON in the form's "rules" textarea as rows of inputs, and writes every edit back
// there. The textarea stays the truth: a person may paste JSON into it and the builder
// redraws. Choices and labels come from the server (json_script "segment-builder-choices"),
// already translated. No directional styles here: the CSS uses logical properties only (RTL).
(function () {
  "use strict";

  var GROUP_KEYS = ["all", "any"];
  var choices, text, fields, textarea, root, notice, kindSelect, rulesFieldset;
  var preview = null;
  var tree = { all: [] };
  var uid = 0;

  // --- Small helpers ---------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === undefined || value === null || value === false) {
        return;
      }
      if (name === "text") {
        node.textContent = value;
      } else if (name === "className") {
        node.className = value;
      } else if (name.slice(0, 2) === "on") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "value") {
        node.value = value;
      } else {
        node.setAttribute(name, value === true ? "" : value);
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(child);
      }
    });
    return node;
  }

  function button(label, className, onclick, title) {
    return el("button", {
      type: "button",
      className: "button crm-sb-button " + className,
      text: label,
      title: title,
      "aria-label": title,
      onclick: onclick,
    });
  }

  function select(options, current, attrs) {
    var node = el("select", attrs);
    options.forEach(function (option) {
      var item = el("option", { value: String(option[0]), text: option[1] });
      if (String(option[0]) === String(current)) {
        item.selected = true;
      }
      node.appendChild(item);
    });
    return node;
  }

  function datalist(name, options) {
    var id = "crm-sb-list-" + name;
    if (!document.getElementById(id)) {
      var list = el("datalist", { id: id });
      options.forEach(function (option) {
        var pair = Array.isArray(option) ? option : [option, ""];
        list.appendChild(el("option", { value: pair[0], label: pair[1] || undefined }));
      });
      document.body.appendChild(list);
    }
    return id;
  }

  // Persian and Arabic digits typed in number inputs count as the digits they are.
  function latinDigits(value) {
    return String(value).replace(/[\u06f0-\u06f9\u0660-\u0669]/g, function (digit) {
      var code = digit.charCodeAt(0);
      return String(code - (code >= 0x06f0 ? 0x06f0 : 0x0660));
    });
  }

  // A number when the text is exactly one (so "10.50" stays "10.50"), else the text as typed.
  function numberOrText(raw) {
    var value = latinDigits(raw).trim().replace(/[\u066b]/g, ".");
    var number = Number(value);
    return value !== "" && isFinite(number) && String(number) === value ? number : value;
  }

  function wholeOrText(raw) {
    var value = latinDigits(raw).trim();
    return /^\d+$/.test(value) ? parseInt(value, 10) : value;
  }

  function splitList(raw) {
    return String(raw)
      .split(/[,\u060c]/)
      .map(function (part) {
        return part.trim();
      })
      .filter(Boolean);
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function groupKey(node) {
    if (!isObject(node)) {
      return null;
    }
    var keys = Object.keys(node);
    if (keys.length === 1 && GROUP_KEYS.indexOf(keys[0]) !== -1 && Array.isArray(node[keys[0]])) {
      return keys[0];
    }
    return null;
  }

  function opOf(spec, value) {
    return (
      spec.ops.filter(function (op) {
        return op.value === value;
      })[0] || null
    );
  }

  function defaultValue(op) {
    if (op.default !== undefined) {
      return op.default;
    }
    switch (op.input) {
      case "texts":
      case "scalars":
      case "stages":
        return [];
      case "integer":
        return 1;
      case "decimal":
        return 0;
      case "segment":
        return choices.segments.length ? choices.segments[0][0] : null;
      default:
        return "";
    }
  }

  function newRule(fieldName) {
    var spec = fields[fieldName];
    var op = spec.ops[0];
    var rule = { field: fieldName };
    spec.params.forEach(function (name) {
      if (name in spec.defaults) {
        rule[name] = spec.defaults[name];
      }
    });
    rule.op = op.value;
    if (op.input !== "none") {
      rule.value = defaultValue(op);
    }
    spec.tail.forEach(function (name) {
      if (name in spec.defaults) {
        rule[name] = spec.defaults[name];
      }
    });
    return rule;
  }

  // --- Reading and writing the textarea --------------------------------------------------------

  // The tree a person's JSON stands for, or null when the builder cannot show it.
  function normalise(parsed) {
    if (!isObject(parsed)) {
      return null;
    }
    if (!Object.keys(parsed).length) {
      return { all: [] };
    }
    if ("rules" in parsed && !("all" in parsed || "any" in parsed || "field" in parsed)) {
      return normalise(parsed.rules === null || parsed.rules === "" ? {} : parsed.rules);
    }
    if (groupKey(parsed)) {
      return parsed;
    }
    return { all: [parsed] }; // a single rule
  }

  function readTextarea() {
    var raw = textarea.value.trim();
    if (!raw) {
      return { all: [] };
    }
    try {
      return normalise(JSON.parse(raw));
    } catch (error) {
      return null;
    }
  }

  function write() {
    textarea.value = JSON.stringify(tree, null, 2);
    notice.hidden = true;
    if (preview) {
      preview.schedule();
    }
  }

  // Structural edits redraw the tree; value edits only write, so the input keeps its focus.
  function changed(redraw) {
    if (redraw) {
      render();
    }
    write();
  }

  // --- Drawing ---------------------------------------------------------------------------------

  function render() {
    root.textContent = "";
    root.appendChild(renderGroup(tree, null, 0));
  }

  function renderNode(node, siblings, index, depth) {
    if (groupKey(node)) {
      return renderGroup(node, { siblings: siblings, index: index }, depth);
    }
    if (isObject(node) && typeof node.field === "string" && fields[node.field]) {
      return renderRule(node, siblings, index);
    }
    return el("div", { className: "crm-sb-rule crm-sb-unknown" }, [
      el("code", { className: "crm-sb-json", dir: "ltr", text: JSON.stringify(node) }),
      el("span", { className: "crm-help", text: text.unknown }),
      removeButton(siblings, index, text.remove),
    ]);
  }

  function removeButton(siblings, index, label) {
    return button("\u2715", "crm-sb-remove", function () {
      siblings.splice(index, 1);
      changed(true);
    }, label);
  }

  function renderGroup(node, place, depth) {
    var key = groupKey(node);
    var children = node[key];
    var match = select(
      [
        ["all", text.matchAll],
        ["any", text.matchAny],
      ],
      key,
      {
        className: "crm-sb-match",
        "aria-label": text.matchAll + " / " + text.matchAny,
        onchange: function (event) {
          var items = node[key];
          delete node[key];
          node[event.target.value] = items;
          changed(true);
        },
      }
    );
    var head = el("div", { className: "crm-sb-head" }, [
      match,
      place ? removeButton(place.siblings, place.index, text.removeGroup) : null,
    ]);
    var list = el("ol", { className: "crm-sb-children" });
    children.forEach(function (child, index) {
      list.appendChild(el("li", { className: "crm-sb-item" }, [renderNode(child, children, index, depth + 1)]));
    });
    var actions = el("div", { className: "crm-sb-actions" }, [
      button(text.addRule, "crm-sb-add-rule", function () {
        children.push(newRule(choices.fields[0].value));
        changed(true);
      }),
      depth + 1 <= choices.maxDepth
        ? button(text.addGroup, "crm-sb-add-group", function () {
            children.push({ any: [newRule(choices.fields[0].value)] });
            changed(true);
          })
        : null,
    ]);
    return el("div", { className: "crm-sb-group" + (place ? "" : " crm-sb-root"), role: "group" }, [
      head,
      !children.length && !place ? el("p", { className: "crm-help", text: text.empty }) : null,
      children.length ? list : null,
      actions,
    ]);
  }

  function fieldSelect(node, siblings, index) {
    var picker = el("select", {
      className: "crm-sb-field",
      "aria-label": text.field,
      onchange: function (event) {
        siblings[index] = newRule(event.target.value);
        changed(true);
      },
    });
    var groups = {};
    choices.fields.forEach(function (spec) {
      if (!groups[spec.group]) {
        groups[spec.group] = el("optgroup", { label: spec.group });
        picker.appendChild(groups[spec.group]);
      }
      var option = el("option", { value: spec.value, text: spec.label });
      option.selected = spec.value === node.field;
      groups[spec.group].appendChild(option);
    });
    return picker;
  }

  function renderRule(node, siblings, index) {
    var spec = fields[node.field];
    var op = opOf(spec, node.op);
    var parts = [fieldSelect(node, siblings, index)];
    spec.params.forEach(function (name) {
      parts.push(renderParam(node, name));
    });
    var ops = spec.ops.map(function (item) {
      return [item.value, item.label];
    });
    if (!op) {
      ops.unshift([node.op === undefined ? "" : String(node.op), "?"]);
    }
    parts.push(
      select(ops, node.op, {
        className: "crm-sb-op",
        "aria-label": text.operator,
        onchange: function (event) {
          var next = opOf(spec, event.target.value);
          if (!next) {
            return;
          }
          node.op = next.value;
          if (next.input === "none") {
            delete node.value;
          } else if (!op || op.input !== next.input || !("value" in node)) {
            node.value = defaultValue(next);
          }
          changed(true);
        },
      })
    );
    if (op && op.input !== "none") {
      parts.push(renderValue(node, op));
    }
    if (op && op.unit) {
      parts.push(el("span", { className: "crm-sb-unit", text: op.unit }));
    }
    spec.tail.forEach(function (name) {
      parts.push(renderParam(node, name));
    });
    parts.push(removeButton(siblings, index, text.remove));
    return el("div", { className: "crm-sb-rule crm-sb-rule-" + node.field }, parts);
  }

  function textInput(value, attrs, onvalue) {
    return el(
      "input",
      Object.assign(
        {
          type: "text",
          value: value === undefined || value === null ? "" : String(value),
          dir: "auto",
          oninput: function (event) {
            onvalue(event.target.value);
            changed(false);
          },
        },
        attrs
      )
    );
  }

  function wholeInput(node, name, label) {
    return textInput(node[name], { inputmode: "numeric", size: 5, className: "crm-sb-number", "aria-label": label }, function (raw) {
      node[name] = wholeOrText(raw);
    });
  }

  function withUnit(input, unit) {
    return el("span", { className: "crm-sb-labelled" }, [input, el("span", { className: "crm-sb-unit", text: unit })]);
  }

  function renderParam(node, name) {
    switch (name) {
      case "key":
        return textInput(node.key, { dir: "ltr", size: 12, placeholder: text.key, "aria-label": text.key }, function (raw) {
          node.key = raw.trim();
        });
      case "kind":
        return textInput(
          node.kind,
          { dir: "ltr", size: 12, list: datalist("kinds", choices.identityKinds), placeholder: text.kind, "aria-label": text.kind },
          function (raw) {
            node.kind = raw.trim();
          }
        );
      case "channel":
        return select(choices.channels, node.channel, {
          "aria-label": text.channel,
          onchange: function (event) {
            node.channel = event.target.value;
            changed(false);
          },
        });
      case "name":
        return textInput(
          node.name,
          { size: 18, list: datalist("events", choices.events), placeholder: text.name, "aria-label": text.name },
          function (raw) {
            node.name = raw.trim();
          }
        );
      case "properties":
        return renderProperties(node);
      case "count":
        return withUnit(wholeInput(node, "count", text.count), text.count);
      case "days":
        return withUnit(wholeInput(node, "days", text.days), text.days);
      default:
        return null;
    }
  }

  // A text, or a number when the person says so (a trait of 3 is not the text "3").
  function scalarInput(value, onvalue, label) {
    var asNumber = typeof value === "number";
    var input = textInput(value, { size: 12, "aria-label": label }, function (raw) {
      onvalue(asNumber ? numberOrText(raw) : raw);
    });
    var type = select(
      [
        ["text", text.asText],
        ["number", text.asNumber],
      ],
      asNumber ? "number" : "text",
      {
        className: "crm-sb-type",
        "aria-label": text.valueType,
        onchange: function (event) {
          asNumber = event.target.value === "number";
          onvalue(asNumber ? numberOrText(input.value) : input.value);
          changed(false);
        },
      }
    );
    return el("span", { className: "crm-sb-scalar" }, [input, type]);
  }

  function scalarsInput(node) {
    var values = Array.isArray(node.value) ? node.value : [];
    var asNumber = values.length > 0 && values.every(function (v) {
      return typeof v === "number";
    });
    var input = textInput(values.join(", "), { size: 24, placeholder: text.values, "aria-label": text.values }, function (raw) {
      node.value = splitList(raw).map(asNumber ? numberOrText : String);
    });
    var type = select(
      [
        ["text", text.asText],
        ["number", text.asNumber],
      ],
      asNumber ? "number" : "text",
      {
        className: "crm-sb-type",
        "aria-label": text.valueType,
        onchange: function (event) {
          asNumber = event.target.value === "number";
          node.value = splitList(input.value).map(asNumber ? numberOrText : String);
          changed(false);
        },
      }
    );
    return el("span", { className: "crm-sb-scalar" }, [input, type]);
  }

  function renderValue(node, op) {
    switch (op.input) {
      case "text":
        return textInput(
          node.value,
          { size: 18, list: fields[node.field].suggest === "locales" ? datalist("locales", choices.locales) : undefined, "aria-label": text.value },
          function (raw) {
            node.value = raw;
          }
        );
      case "texts":
        return textInput(
          Array.isArray(node.value) ? node.value.join(", ") : node.value,
          { size: 24, placeholder: text.values, "aria-label": text.values },
          function (raw) {
            node.value = splitList(raw);
          }
        );
      case "stages":
        return renderStages(node);
      case "scalar":
        return scalarInput(node.value, function (value) {
          node.value = value;
        }, text.value);
      case "scalars":
        return scalarsInput(node);
      case "integer":
        return wholeInput(node, "value", text.value);
      case "decimal":
        return textInput(node.value, { inputmode: "decimal", size: 10, className: "crm-sb-number", "aria-label": text.value }, function (raw) {
          node.value = numberOrText(raw);
        });
      case "segment":
        return renderSegment(node);
      default:
        return null;
    }
  }

  function renderStages(node) {
    var chosen = Array.isArray(node.value) ? node.value : [];
    var box = el("span", { className: "crm-sb-stages", role: "group", "aria-label": text.value });
    choices.stages.forEach(function (stage) {
      var id = "crm-sb-stage-" + ++uid;
      var check = el("input", {
        type: "checkbox",
        id: id,
        value: stage[0],
        checked: chosen.indexOf(stage[0]) !== -1,
        onchange: function () {
          node.value = Array.prototype.filter
            .call(box.querySelectorAll("input"), function (input) {
              return input.checked;
            })
            .map(function (input) {
              return input.value;
            });
          changed(false);
        },
      });
      box.appendChild(el("span", { className: "crm-sb-check" }, [check, el("label", { for: id, text: stage[1] })]));
    });
    return box;
  }

  function renderSegment(node) {
    var options = [["", text.chooseSegment]].concat(choices.segments);
    var known = choices.segments.some(function (pair) {
      return pair[0] === node.value;
    });
    if (!known && node.value !== null && node.value !== undefined) {
      options.push([node.value, "#" + node.value]);
    }
    return select(options, node.value === null || node.value === undefined ? "" : node.value, {
      className: "crm-sb-segment",
      "aria-label": text.segment,
      onchange: function (event) {
        node.value = event.target.value ? parseInt(event.target.value, 10) : null;
        changed(false);
      },
    });
  }

  // Property conditions of an event: its own rows, so a half-typed one (no name yet) survives.
  function renderProperties(node) {
    var rows = Object.keys(isObject(node.properties) ? node.properties : {}).map(function (key) {
      return [key, node.properties[key]];
    });
    var box = el("span", { className: "crm-sb-properties" });

    function save() {
      var properties = {};
      rows.forEach(function (row) {
        if (row[0]) {
          properties[row[0]] = row[1];
        }
      });
      if (Object.keys(properties).length) {
        node.properties = properties;
      } else {
        delete node.properties;
      }
      changed(false);
    }

    function draw() {
      box.textContent = "";
      rows.forEach(function (row, index) {
        var keyInput = el("input", {
          type: "text",
          dir: "ltr",
          size: 10,
          value: row[0],
          placeholder: text.property,
          "aria-label": text.property,
          oninput: function (event) {
            row[0] = event.target.value.trim();
            save();
          },
        });
        var value = scalarInput(row[1], function (v) {
          row[1] = v;
          save();
        }, text.value);
        var remove = button("\u2715", "crm-sb-remove", function () {
          rows.splice(index, 1);
          save();
          draw();
        }, text.remove);
        box.appendChild(el("span", { className: "crm-sb-property" }, [keyInput, el("span", { text: "=" }), value, remove]));
      });
      box.appendChild(
        button(text.addProperty, "crm-sb-add-property", function () {
          rows.push(["", ""]);
          draw();
        })
      );
    }

    draw();
    return box;
  }

  // --- Live count --------------------------------------------------------------------------------

  function Preview(section) {
    var url = section.getAttribute("data-preview-url");
    var segment = parseInt(section.getAttribute("data-segment"), 10) || null;
    var output = section.querySelector(".crm-segment-result");
    var errors = section.querySelector(".crm-segment-errors");
    var table = section.querySelector(".crm-segment-sample");
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    var timer = null;
    var controller = null;
    var counted = false;

    function showErrors(list) {
      errors.textContent = "";
      list.forEach(function (message) {
        errors.appendChild(el("li", { text: message }));
      });
      errors.hidden = !list.length;
    }

    function showSample(rows) {
      var body = table.querySelector("tbody");
      body.textContent = "";
      rows.forEach(function (row) {
        body.appendChild(
          el("tr", {}, [
            el("td", {}, [el("a", { href: row.url, dir: "auto", text: row.name })]),
            el("td", {}, [row.email ? el("bdi", { className: "crm-identifier", text: row.email }) : el("span", { text: "-" })]),
            el("td", {}, [row.phone ? el("bdi", { className: "crm-identifier", text: row.phone }) : el("span", { text: "-" })]),
          ])
        );
      });
      table.hidden = !rows.length;
    }

    function run() {
      clearTimeout(timer);
      if (controller) {
        controller.abort();
      }
      controller = window.AbortController ? new AbortController() : null;
      output.textContent = text.counting;
      section.classList.remove("crm-stale");
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify({ rules: tree, segment: segment }),
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          return response.json();
        })
        .then(function (data) {
          counted = true;
          if (data.errors) {
            output.textContent = "";
            showErrors(data.errors);
            showSample([]);
            return;
          }
          showErrors([]);
          output.textContent = data.summary;
          showSample(data.sample || []);
          if (!data.count) {
            output.textContent = text.nobody;
          }
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") {
            return;
          }
          output.textContent = text.failed;
        });
    }

    section.querySelector(".crm-segment-count").addEventListener("click", run);

    return {
      run: run,
      // Counting runs the segment's query: wait until the person pauses.
      schedule: function () {
        clearTimeout(timer);
        if (counted) {
          section.classList.add("crm-stale");
          output.textContent = text.stale;
        }
        timer = setTimeout(run, 800);
      },
      cancel: function () {
        clearTimeout(timer);
      },
    };
  }

  // --- Start ---------------------------------------------------------------------------------------

  function syncKind() {
    var isStatic = kindSelect && kindSelect.value === "static";
    if (rulesFieldset) {
      rulesFieldset.hidden = isStatic;
    }
    var section = document.getElementById("segment-preview");
    if (section) {
      section.hidden = isStatic || !textarea;
    }
    if (isStatic && preview) {
      preview.cancel();
    }
  }

  function start() {
    var data = document.getElementById("segment-builder-choices");
    textarea = document.getElementById("id_rules");
    kindSelect = document.getElementById("id_kind");
    rulesFieldset = document.querySelector("fieldset.crm-segment-rules");
    if (kindSelect) {
      kindSelect.addEventListener("change", syncKind);
    }
    if (!data || !textarea) {
      syncKind(); // view-only: the rules are shown as read-only JSON
      return;
    }
    choices = JSON.parse(data.textContent);
    text = choices.text;
    fields = {};
    choices.fields.forEach(function (spec) {
      fields[spec.value] = spec;
    });

    root = el("div", { className: "crm-sb", id: "segment-builder" });
    notice = el("p", { className: "crm-notice crm-sb-notice", role: "status", text: text.badJson, hidden: true });
    var details = el("details", { className: "crm-sb-source" }, [el("summary", { text: "JSON" })]);
    textarea.parentNode.insertBefore(root, textarea);
    textarea.parentNode.insertBefore(notice, textarea);
    textarea.parentNode.insertBefore(details, textarea);
    details.appendChild(textarea);
    // A form sent back with errors shows the JSON that caused them.
    if (document.querySelector(".field-rules .errorlist")) {
      details.open = true;
    }

    var initial = readTextarea();
    if (initial) {
      tree = initial;
    } else {
      notice.hidden = false;
      details.open = true;
    }
    render();

    var typing = null;
    textarea.addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(function () {
        var pasted = readTextarea();
        if (!pasted) {
          notice.hidden = false;
          return;
        }
        notice.hidden = true;
        tree = pasted;
        render();
        if (preview) {
          preview.schedule();
        }
      }, 300);
    });

    var section = document.getElementById("segment-preview");
    if (section) {
      preview = Preview(section);
    }
    syncKind();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
