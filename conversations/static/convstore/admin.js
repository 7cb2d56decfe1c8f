// convstore admin: a "Copy" button copies the text of the element its data-copy names
// (the API key or signing secret shown once).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    button.textContent = "Copied";
  });
});

// The conversation page's "+ Add row": one more key/value row from the formset's empty form
// (a <template>), numbered by and counted in the formset's TOTAL_FORMS (Django formsets).
document.addEventListener("click", (event) => {
  const button = event.target.closest("#add-metadata-row");
  if (!button) return;
  const prefix = button.dataset.prefix;
  const total = document.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
  const template = document.getElementById("metadata-empty-row");
  const body = document.querySelector("#metadata-rows > table > tbody");
  const index = Number(total.value);
  if (!total || !template || !body || index >= Number(button.dataset.max)) return;
  const html = template.innerHTML.replaceAll("__prefix__", String(index));
  body.insertAdjacentHTML("beforeend", html);
  total.value = String(index + 1);
  body.lastElementChild.querySelector("input[type=text]").focus();
});
