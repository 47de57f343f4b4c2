// Who is on call now and the next shifts, per schedule (GET /oncall).
import { clear, h, time } from "./dom.js";

const person = (user) => (typeof user === "string" ? user : user?.name || user?.id || user?.email || "?");

export async function render(ctx, main) {
  const refresh = async (fresh = ctx) => {
    const data = await fresh.api("GET", "/oncall");
    const schedules = data.schedules || [];
    clear(main).append(h("h2", { text: "On call" }),
      schedules.length ? h("div", { class: "cards oncall" }, schedules.map((s) =>
        h("section", { class: "card schedule", "data-schedule": s.id },
          h("h3", { text: s.name || s.id }),
          h("p", {}, h("span", { class: "muted", text: "Now: " }),
            (s.now || []).length ? h("strong", { text: s.now.map(person).join(", ") }) : h("span", { class: "warn", text: "nobody" })),
          (s.next || []).length ? h("ol", { class: "shifts" }, s.next.map((shift) =>
            h("li", {}, h("strong", { text: person(shift.user) }), " ", time(shift.start), " – ", time(shift.end)))) : null)))
        : h("p", { class: "muted", text: "No schedules yet. Declare them in schemas/escalation.yaml or through the API." }));
  };
  await refresh();
  return refresh;
}
