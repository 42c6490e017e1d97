// The runs list: status chips and the location apply at once (the form is a plain GET, so the
// filters live in the URL); the table itself is a live region re-rendered on run_status.
(function () {
  "use strict";
  const form = document.getElementById("run-filters");
  if (!form) return;
  form.addEventListener("change", (ev) => {
    if (ev.target.matches("input[type=checkbox], select")) form.requestSubmit();
  });
  // Empty fields stay out of the URL.
  form.addEventListener("formdata", (ev) => {
    for (const [key, value] of [...ev.formData.entries()]) {
      if (value === "") ev.formData.delete(key);
    }
  });
})();
