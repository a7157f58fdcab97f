// Offer the CRM lists (from the lists channel's public API) as suggestions for the list id.
(function () {
  const datalist = document.getElementById("crm-lists");
  if (!datalist || !datalist.dataset.url) return;
  fetch(datalist.dataset.url + "?perPage=200", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : { items: [] }))
    .then((page) => {
      for (const item of page.items || []) {
        const option = document.createElement("option");
        option.value = item.id;
        option.textContent = item.name;
        datalist.appendChild(option);
      }
    })
    .catch(() => {});
})();
