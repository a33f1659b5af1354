//! Word lists and templates for the simulated prompts and answers, written for this
//! project. A template's `{slot}` is filled from the list of that name ([`fill`]).

use crate::rng::Rng;

/// The list a slot draws from.
fn slot(name: &str) -> &'static [&'static str] {
    match name {
        "task" => &[
            "merge two branches without losing history",
            "schedule a recurring report",
            "export a table to CSV",
            "rename a column without breaking the dashboards",
            "set up single sign-on",
            "roll back a failed deployment",
            "split a large PDF into chapters",
            "add a dark mode toggle",
            "write a unit test for a date parser",
            "cache the results of a slow query",
            "migrate users to the new mailbox",
            "track expenses per project",
            "configure alerts for disk usage",
            "deduplicate a customer list",
            "paginate an API response",
            "encrypt a backup before uploading it",
            "plan a two-week sprint",
            "compress images for the website",
            "onboard a new contractor",
            "forecast next quarter's demand",
            "build a pivot table by region",
            "retry failed webhook deliveries",
            "clean up stale feature flags",
            "compare two versions of a contract",
        ],
        "tool" => &[
            "Excel",
            "Git",
            "PostgreSQL",
            "Power BI",
            "Kubernetes",
            "Terraform",
            "Python",
            "TypeScript",
            "Jira",
            "Outlook",
            "SharePoint",
            "React",
            "Rust",
            "Go",
            "Bash",
            "Google Sheets",
            "Salesforce",
            "Figma",
            "Docker",
            "Azure DevOps",
            "Snowflake",
            "Notion",
        ],
        "doc" => &[
            "a short announcement",
            "a project update",
            "a job description",
            "an apology email",
            "a one-page proposal",
            "meeting minutes",
            "a release note",
            "a training outline",
            "a customer FAQ",
            "a risk assessment",
            "a LinkedIn post",
            "a reference letter",
        ],
        "audience" => &[
            "the finance team",
            "new hires",
            "our biggest customer",
            "the board",
            "field technicians",
            "the support desk",
            "university partners",
            "suppliers in Asia",
            "the legal department",
            "non-technical managers",
        ],
        "subject" => &[
            "the office move in April",
            "the price increase",
            "the new expense policy",
            "a delayed product launch",
            "the security audit results",
            "our hybrid work rules",
            "the data centre outage last Tuesday",
            "the switch to a new payroll provider",
            "quarterly sales targets",
            "the summer internship programme",
            "the recycling initiative",
            "changes to on-call rotations",
            "the customer satisfaction survey",
            "the upcoming trade fair",
            "a merger with a smaller competitor",
            "the new travel booking tool",
            "reducing cloud spending",
            "accessibility of our website",
        ],
        "thing_a" => &[
            "a left join",
            "a mutex",
            "a VLOOKUP",
            "a rebase",
            "a pension fund",
            "a fixed-rate mortgage",
            "a Roth IRA",
            "TCP",
            "a process",
            "an index",
            "a sole proprietorship",
            "a stock option",
            "a heat pump",
            "an SSD",
        ],
        "thing_b" => &[
            "an inner join",
            "a semaphore",
            "an XLOOKUP",
            "a merge",
            "an ETF",
            "a variable-rate mortgage",
            "a traditional IRA",
            "UDP",
            "a thread",
            "a materialized view",
            "a limited company",
            "an RSU",
            "a gas boiler",
            "an HDD",
        ],
        "place" => &[
            "Lisbon",
            "Kyoto",
            "the Scottish Highlands",
            "Vancouver",
            "Marrakesh",
            "Tallinn",
            "the Dolomites",
            "Cape Town",
            "Montreal",
            "Seoul",
            "Patagonia",
            "Sicily",
        ],
        "dish" => &[
            "a vegetarian lasagne",
            "a lentil curry",
            "sourdough bread",
            "a Thai green curry",
            "banana pancakes",
            "a quick ramen",
            "a shakshuka",
            "a mushroom risotto",
            "gluten-free brownies",
            "a chickpea salad",
        ],
        "number" => &["3", "4", "5", "6", "8", "10", "12", "15", "20", "25", "30"],
        "error" => &[
            "a permission denied error",
            "a 502 Bad Gateway",
            "an out-of-memory crash",
            "a certificate expired warning",
            "a merge conflict in package-lock.json",
            "a deadlock detected message",
            "a timeout after 30 seconds",
            "an undefined is not a function error",
            "a segmentation fault",
            "a circular import error",
        ],
        "skill" => &[
            "public speaking",
            "negotiation",
            "SQL",
            "Spanish",
            "statistics",
            "time management",
            "watercolour painting",
            "machine learning",
            "touch typing",
            "giving feedback",
        ],
        _ => &["something"],
    }
}

/// `template` with every `{slot}` filled from its list.
pub(crate) fn fill(rng: &mut Rng, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 40);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let list = slot(&rest[open + 1..open + close]);
        out.push_str(list[rng.index(list.len())]);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// First messages of a chat conversation.
pub(crate) const OPENINGS: [&str; 30] = [
    "How do I {task} in {tool}?",
    "Can you help me write {doc} for {audience} about {subject}?",
    "What's the difference between {thing_a} and {thing_b}?",
    "I'm getting {error} in {tool}. Where should I start looking?",
    "Give me {number} ideas for a team activity related to {subject}.",
    "I have to present {subject} to {audience} tomorrow. What should the outline be?",
    "Plan a {number}-day trip to {place} for someone who likes hiking and food.",
    "What's a good recipe for {dish} that takes under an hour?",
    "Explain {thing_a} to me like I'm new to the topic.",
    "I want to get better at {skill}. Can you suggest a {number}-week plan?",
    "Is there a faster way to {task}? I usually do it by hand in {tool}.",
    "Summarise the pros and cons of {thing_a} versus {thing_b} for a small business.",
    "Proofread this: 'Dear all, please find attached the update on {subject}, let me know you're thoughts.'",
    "Rewrite this sentence to sound friendlier: 'Your request regarding {subject} has been rejected.'",
    "Which questions should I ask in an interview for someone who will {task}?",
    "What are common mistakes people make when they {task}?",
    "Can you draft {doc} announcing {subject}? Keep it under 150 words.",
    "My manager asked me to {task} by Friday and I've never used {tool}. Help!",
    "How long does it usually take to learn {skill} well enough to use at work?",
    "Write a polite reminder to {audience} about {subject}.",
    "Why would {tool} show {error} only on Mondays?",
    "Compare {tool} and Excel for someone who needs to {task}.",
    "Give me a checklist to {task}.",
    "What would be a fair agenda for a one-hour workshop on {subject}?",
    "Can you suggest a name for an internal project about {subject}?",
    "I'm cooking {dish} for {number} people. How should I scale the quantities?",
    "What should I pack for a week in {place} in November?",
    "Translate into French: 'The meeting about {subject} is moved to Thursday.'",
    "Brainstorm {number} survey questions for {audience} about {subject}.",
    "Walk me through how I'd {task} using {tool}, assuming I only know the basics.",
];

/// Later messages of a conversation, which refer back to the earlier ones.
pub(crate) const FOLLOW_UPS: [&str; 24] = [
    "Thanks! Can you make it shorter?",
    "Could you give me a concrete example with {tool}?",
    "That helps. And how would that work for {audience}?",
    "Can you turn that into a checklist?",
    "I tried the second step but still see {error}. Any other idea?",
    "Make the tone a bit more formal, please.",
    "What if we only have {number} days?",
    "Can you explain the third point in more detail?",
    "Great, now add a sentence about {subject}.",
    "Is there a risk I'm missing?",
    "Can you put that in a table?",
    "Okay. What would you do first?",
    "Could you rewrite it for {audience} instead?",
    "Perfect, thanks. One more thing: how do I {task}?",
    "Hmm, that doesn't match what I see. I'm on the latest version of {tool}.",
    "Shorter still, two sentences max.",
    "Can you add a subject line?",
    "What would that cost roughly?",
    "Let's go with your first suggestion. What are the next steps?",
    "Can you give me the same for {place}?",
    "Does this change if I use {thing_b} instead?",
    "Please list the sources or docs I should read.",
    "Nice. Can you translate the final version into Spanish?",
    "Why did you recommend that over the alternative?",
];

/// Sentences of ordinary assistant answers.
pub(crate) const ANSWER_SENTENCES: [&str; 30] = [
    "Sure, here is a straightforward way to approach it.",
    "The key difference is how each one handles {thing_a} compared with {thing_b}.",
    "First, make a copy of your work so you can always go back.",
    "In {tool}, open the settings panel and look for the option under Advanced.",
    "Most people run into {error} because a configuration value is missing.",
    "For {audience}, keep the message short and lead with what changes for them.",
    "A realistic timeline is {number} working days, including review.",
    "Here is a draft you can adapt to your own voice.",
    "Start with the goal, then the constraints, then the decision you need.",
    "If you only have a few minutes, focus on the first two steps.",
    "You can automate this later once the manual process is stable.",
    "It is worth checking with the legal department before sending it externally.",
    "A common mistake is to skip testing on a small sample first.",
    "Group related items together so the reader can scan the list quickly.",
    "When it comes to {subject}, clarity matters more than detail.",
    "You might also want to set a reminder for the follow-up.",
    "The simplest fix is usually to restart the service and clear the cache.",
    "For {dish}, prepare all the ingredients before you turn on the stove.",
    "In {place}, the weather changes quickly, so pack layers.",
    "Practising {skill} for twenty minutes a day beats one long session a week.",
    "Let me know if you'd like a more detailed version.",
    "Keep a short log of what you tried, it makes troubleshooting much faster.",
    "Ask one person to own the decision, otherwise it tends to drift.",
    "Numbers help: say how many people are affected and by when.",
    "The documentation of {tool} has a good section on exactly this.",
    "If it still fails, share the exact error message and the version you use.",
    "A table with one row per option and one column per criterion works well here.",
    "Avoid jargon unless you are sure every reader knows it.",
    "You can reuse this template for future updates.",
    "Overall, the second option is the safer choice for your situation.",
];

/// An ordinary assistant answer of about `tokens` tokens, with no sentence twice until
/// all have been used.
pub(crate) fn answer(rng: &mut Rng, tokens: u64) -> String {
    let mut text = String::new();
    let mut order = Vec::new();
    let mut paragraph = 0;
    while super::record::token_count(&text) < tokens {
        if order.is_empty() {
            order = shuffled(rng, ANSWER_SENTENCES.len());
        }
        if !text.is_empty() {
            paragraph += 1;
            text.push_str(if paragraph % 4 == 0 { "\n\n" } else { " " });
        }
        let i = order.pop().unwrap_or(0);
        text.push_str(&fill(rng, ANSWER_SENTENCES[i]));
    }
    text
}

/// `0..n` in random order.
fn shuffled(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.index(i + 1));
    }
    order
}

/// Fields and concepts for harvesting prompts.
pub(crate) const CONCEPTS: [(&str, [&str; 8]); 12] = [
    (
        "mathematics",
        [
            "the Cauchy-Schwarz inequality",
            "eigenvalue decomposition",
            "the central limit theorem",
            "modular exponentiation",
            "Bayes' theorem",
            "the chain rule",
            "Lagrange multipliers",
            "the pigeonhole principle",
        ],
    ),
    (
        "physics",
        [
            "special relativity's time dilation",
            "the photoelectric effect",
            "Bernoulli's principle",
            "entropy in thermodynamics",
            "quantum tunnelling",
            "Maxwell's equations",
            "angular momentum conservation",
            "the Doppler effect",
        ],
    ),
    (
        "computer science",
        [
            "Dijkstra's algorithm",
            "the CAP theorem",
            "garbage collection in the JVM",
            "B-tree insertion",
            "TLS handshakes",
            "consistent hashing",
            "dynamic programming for knapsack",
            "the Raft consensus protocol",
        ],
    ),
    (
        "chemistry",
        [
            "Le Chatelier's principle",
            "SN1 versus SN2 reactions",
            "buffer solutions",
            "electronegativity trends",
            "enzyme catalysis",
            "the Haber process",
            "chirality",
            "galvanic cells",
        ],
    ),
    (
        "biology",
        [
            "CRISPR gene editing",
            "the Krebs cycle",
            "mitosis versus meiosis",
            "the adaptive immune response",
            "photosynthesis",
            "natural selection",
            "protein folding",
            "the action potential in neurons",
        ],
    ),
    (
        "economics",
        [
            "comparative advantage",
            "the Phillips curve",
            "price elasticity",
            "quantitative easing",
            "the tragedy of the commons",
            "game-theoretic Nash equilibria",
            "inflation targeting",
            "moral hazard",
        ],
    ),
    (
        "law",
        [
            "the doctrine of precedent",
            "consideration in contract law",
            "fair use",
            "negligence and duty of care",
            "the GDPR's lawful bases",
            "habeas corpus",
            "adverse possession",
            "strict liability",
        ],
    ),
    (
        "history",
        [
            "the causes of the First World War",
            "the fall of the Western Roman Empire",
            "the Meiji Restoration",
            "the Industrial Revolution in Britain",
            "the Congress of Vienna",
            "the Silk Road trade",
            "the Cuban Missile Crisis",
            "the printing press's impact",
        ],
    ),
    (
        "medicine",
        [
            "how vaccines train immunity",
            "antibiotic resistance",
            "the renin-angiotensin system",
            "type 2 diabetes pathophysiology",
            "how statins lower cholesterol",
            "sepsis management",
            "the blood-brain barrier",
            "how anaesthesia works",
        ],
    ),
    (
        "finance",
        [
            "discounted cash flow valuation",
            "the Black-Scholes model",
            "bond duration",
            "the efficient market hypothesis",
            "leveraged buyouts",
            "value at risk",
            "the capital asset pricing model",
            "currency hedging",
        ],
    ),
    (
        "philosophy",
        [
            "Kant's categorical imperative",
            "the trolley problem",
            "Descartes' cogito",
            "utilitarianism",
            "the ship of Theseus",
            "Hume's problem of induction",
            "social contract theory",
            "the Chinese room argument",
        ],
    ),
    (
        "engineering",
        [
            "PID controllers",
            "fatigue failure in metals",
            "the Nyquist sampling theorem",
            "load balancing in power grids",
            "heat exchanger design",
            "finite element analysis",
            "op-amp feedback",
            "reinforced concrete beams",
        ],
    ),
];

/// Templates of harvesting prompts; most ask for reasoning.
pub(crate) const HARVEST_TEMPLATES: [&str; 14] = [
    "Explain step by step how {c} works.",
    "Explain step by step {c}, as you would to a graduate student in {f}.",
    "Think step by step: what are the key assumptions behind {c}, and when do they fail?",
    "Give a detailed, step-by-step derivation or argument for {c}. Show all reasoning.",
    "Solve step by step and show your reasoning: a worked example that applies {c}.",
    "Write a thorough tutorial on {c} with examples and common pitfalls.",
    "Let's reason step by step. Why is {c} important in {f}?",
    "Compare {c} with the closest alternative idea in {f}, step by step.",
    "Explain {c} in detail, then list five exam-style questions with full worked solutions.",
    "Walk through {c} step by step, justifying each step.",
    "What is {c}? Explain your chain of thought before giving the final summary.",
    "Teach me {c} from first principles, reasoning step by step.",
    "Critically evaluate {c}. Reason carefully step by step and conclude.",
    "Produce a step-by-step explanation of {c} suitable for a textbook chapter in {f}.",
];

/// Sentences of a long reasoning answer about `{c}`.
const REASONING_SENTENCES: [&str; 16] = [
    "Let us start from the definitions and make every assumption explicit.",
    "The central idea of {c} is that a complex situation can be reduced to a few quantities we can reason about.",
    "Consider a simple example with small numbers so that each step can be checked by hand.",
    "From the previous step it follows that the remaining term must be non-negative.",
    "This is where most students go wrong: the condition only holds when the inputs are independent.",
    "We can now generalise the argument to an arbitrary number of components.",
    "Substituting the intermediate result back gives the expression we were looking for.",
    "Intuitively, {c} trades one kind of cost for another, and the balance point is what matters.",
    "A useful sanity check is to look at the limiting cases, where the answer should be obvious.",
    "Historically, {c} was developed to solve a very practical problem.",
    "Note that the result does not depend on the order in which we apply these steps.",
    "To see why, compare the quantities before and after the change.",
    "In practice, measurements are noisy, so we add a margin to the theoretical value.",
    "Therefore the claim holds, and equality occurs exactly in the degenerate case.",
    "A second approach, which gives the same answer, is to argue by contradiction.",
    "Summarising, {c} rests on three ideas: a model, a constraint and an optimisation.",
];

/// A long step-by-step answer about `concept` of about `tokens` tokens.
pub(crate) fn reasoning_answer(rng: &mut Rng, concept: &str, tokens: u64) -> String {
    let mut text = String::new();
    let mut order = Vec::new();
    let mut step = 1;
    while super::record::token_count(&text) < tokens {
        text.push_str(&format!("Step {step}: "));
        for _ in 0..rng.between(2, 4) {
            if order.is_empty() {
                order = shuffled(rng, REASONING_SENTENCES.len());
            }
            let sentence = REASONING_SENTENCES[order.pop().unwrap_or(0)];
            text.push_str(&sentence.replace("{c}", concept));
            text.push(' ');
        }
        text.push('\n');
        step += 1;
    }
    text.push_str("Final answer: the reasoning above establishes the result.");
    text
}

/// Ticket parts for the batch job.
pub(crate) const PRODUCTS: [&str; 16] = [
    "the TrailMaster 2 tent",
    "the mobile app",
    "the Pro subscription",
    "the smart thermostat",
    "the invoice portal",
    "the wireless headset",
    "the e-bike charger",
    "the loyalty card",
    "the desktop client",
    "the coffee grinder",
    "the router firmware",
    "the family plan",
    "the standing desk",
    "the online checkout",
    "the dishwasher",
    "the password reset page",
];
pub(crate) const PROBLEMS: [&str; 18] = [
    "stopped working after the last update",
    "was charged twice",
    "arrived with a broken part",
    "keeps logging them out",
    "shows the wrong delivery date",
    "does not connect to the home Wi-Fi",
    "makes a loud noise when starting",
    "rejected a valid discount code",
    "cannot be returned through the website",
    "lost all saved settings",
    "is missing from the order",
    "displays prices in the wrong currency",
    "drains the battery overnight",
    "sends duplicate notification emails",
    "was delivered to a neighbour",
    "fails with error code E{n}",
    "leaks water from the bottom",
    "is much slower than advertised",
];
pub(crate) const DETAILS: [&str; 16] = [
    "They already tried restarting it twice.",
    "This is the third time they contact us about it.",
    "They bought it {n} days ago in the Berlin store.",
    "The order number is ORD-{n}.",
    "They attached two photos and a screenshot.",
    "They mention a competitor offered them a better deal.",
    "The customer has been with us for {n} months.",
    "Support chat was closed when they tried to reach us.",
    "They want a replacement rather than a refund.",
    "They are travelling next week and need it fixed before.",
    "A colleague of theirs had the same problem.",
    "They were promised a callback that never came.",
    "The issue started on the {n}th of last month.",
    "They use it for their small business.",
    "The customer is polite but clearly frustrated.",
    "They asked whether the warranty covers this.",
];
pub(crate) const ASKS: [&str; 8] = [
    "They ask for a refund.",
    "They want to know when it will be fixed.",
    "They ask us to cancel the order.",
    "They request a technician visit.",
    "They would like compensation for the delay.",
    "They ask for instructions to fix it themselves.",
    "They want to escalate to a manager.",
    "They ask whether a newer model is available.",
];
pub(crate) const CUSTOMERS: [&str; 8] = [
    "A customer",
    "A long-time subscriber",
    "A business client",
    "A first-time buyer",
    "A customer from Lyon",
    "An elderly customer",
    "A reseller",
    "A premium member",
];

/// A support ticket's text, and a summary of it.
pub(crate) fn ticket(rng: &mut Rng) -> (String, String) {
    let customer = CUSTOMERS[rng.index(CUSTOMERS.len())];
    let product = PRODUCTS[rng.index(PRODUCTS.len())];
    let problem =
        PROBLEMS[rng.index(PROBLEMS.len())].replace("{n}", &rng.between(100, 999).to_string());
    let mut text = format!("{customer} reports that {product} {problem}.");
    let mut used = Vec::new();
    for _ in 0..rng.between(1, 4) {
        let i = rng.index(DETAILS.len());
        if used.contains(&i) {
            continue;
        }
        used.push(i);
        let n = rng.between(3, 99_999).to_string();
        text.push(' ');
        text.push_str(&DETAILS[i].replace("{n}", &n));
    }
    let ask = ASKS[rng.index(ASKS.len())];
    text.push(' ');
    text.push_str(ask);
    let summary = format!(
        "Summary: {} {problem}. Customer sentiment: {}. Requested action: {} Priority: {}.",
        capitalise(product),
        ["neutral", "frustrated", "angry", "patient"][rng.index(4)],
        ask.trim_start_matches("They ").replace("ask", "asks"),
        ["low", "medium", "high"][rng.index(3)],
    );
    (text, summary)
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_every_slot() {
        let mut rng = Rng::new(5);
        for template in OPENINGS.iter().chain(FOLLOW_UPS.iter()) {
            let text = fill(&mut rng, template);
            assert!(!text.contains('{') && !text.contains("something"), "{text}");
        }
        for sentence in ANSWER_SENTENCES {
            let text = fill(&mut rng, sentence);
            assert!(!text.contains("something"), "{text}");
        }
    }
}
