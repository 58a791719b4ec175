/* Search results quote the page's prose. Sphinx takes a result's snippet from the page's [role="main"],
   which in this theme begins with the article's buttons and the printed table of contents, so a search
   for a section's subject quoted the list of sections. The snippet comes from the article instead. */
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined") return;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".headerlink, script, style").forEach((el) => el.remove());
    const article = page.querySelector("article") || page.querySelector('[role="main"]');
    if (!article) return "";
    const id = anchor ? decodeURIComponent(anchor.replace(/^#/, "")) : "";
    const section = id ? page.getElementById(id) : null;
    return (section && article.contains(section) ? section : article).textContent;
  };
});
