"""A short value read off an evidence-table cell's quote: a count with what it counts ("120 patients"), a number
with its unit ("85.3%"), a dataset's name, the metrics or the study design named. Only what the quote says
verbatim is returned, so the value can always be checked against the quote beside it; a quote that gives no such
value leaves it empty (the quote is the answer). A model's value is kept only when the quote supports it
(`supported`): its numbers are all in the quote, and most of its words.
"""

from __future__ import annotations

import re
from typing import Literal

ValueKind = Literal["count", "number", "dataset", "metric", "design", "test", "text"]

# what studies count as their sample: people, animals (laboratory and farm), specimens, units of analysis (not
# the settings they come from: "12 hospitals" is where, not how many)
# who or what a study counts: beings (a trial's or a cohort's sample) first, then things (a corpus's, a survey's)
_BEINGS = (r"patients|participants|subjects|individuals|people|persons|adults|children|infants|women|men|"
           r"volunteers|cases|controls|respondents|students|annotators|workers|users|mice|rats|animals|"
           r"pigs|dogs|cats|horses|sheep|goats|cattle|cows|chickens|birds|fish|monkeys|primates|flies|plants|"
           r"smokers|drinkers|mothers|fathers|parents|couples|families|nurses|physicians|doctors|clinicians|"
           r"employees|veterans|residents|survivors|athletes|girls|boys|adolescents|youths|teenagers|pupils|"
           r"twins|donors|recipients|newborns|neonates|outpatients|inpatients|job-?seekers")
_COUNTED = (_BEINGS + r"|samples|specimens|households|pregnancies|eyes|teeth|strains|isolates|"
            r"papers|documents|articles|sentences|examples|images|questions|trials|studies|events")
_INTEGER = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"  # 4,120 or 4120, never a trailing comma
_N_EQUALS = re.compile(rf"\b[nN]\s*=\s*(?:{_INTEGER})")


# the words between a count and what it counts describe them ("2,462 dementia-free participants"); a preposition
# there means the number is something else: a year ("between 1985 and 1996 in children"), a part ("45 of the
# patients"), a rate ("1 in 5 patients")
_NOT_A_PREPOSITION = r"(?!(?:in|of|at|on|from|to|by|for|with|per|among|between)\b(?!-))"  # "300 at-risk children"
# "1 in 5 patients", "3 of 12 mice": a share, not the sample (a small number right before "in"/"of", not a year nor
# a numbered cohort: "in 2016 in 4,120 adults", "cohort 2 of 1,500 patients" are samples)
_SHARE_START = r"(?<![\w,.])(?<!(?:hort|hase|roup|tage| arm|wave|tudy|rial|step|part) )"
_NOT_A_RATE = (rf"(?<!{_SHARE_START}\d in )(?<!{_SHARE_START}\d\d in )(?<!{_SHARE_START}\d of )"
               rf"(?<!{_SHARE_START}\d\d of )")


def _count_of(counted: str) -> re.Pattern[str]:
    """A number of `counted` ("4,120 adults", "81.1M papers", "2,462 dementia-free participants")."""
    return re.compile(rf"{_NOT_A_RATE}(?<![\d.,])\b(?:{_INTEGER})(?:\.\d+\s?(?:[KMB]\b|million|thousand|billion)|"
                      rf"\s?(?:[KMB]\b|"
                      rf"million|thousand|billion))?(?:\s+{_NOT_A_PREPOSITION}[\w-]+){{0,2}}?\s+(?:{counted})\b",
                      re.IGNORECASE)


_COUNT, _COUNT_OF_BEINGS = _count_of(_COUNTED), _count_of(_BEINGS)
# a count spelled out, as qualitative studies write it ("fifteen participants", "Twenty-two nurses"); never "one"
# (a single case is no sample size)
_UNITS_WORDS = "two|three|four|five|six|seven|eight|nine"
_WORD_NUMBER = (rf"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|{_UNITS_WORDS}))?|"
                rf"{_UNITS_WORDS}|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen)")
# (not the end of a larger one: "One hundred and twenty participants" gives no value rather than twenty)
_WORD_COUNT = re.compile(rf"(?<!hundred )(?<!thousand )(?<!hundred and )(?<!thousand and )(?<!-)\b{_WORD_NUMBER}"
                         rf"(?!\s+(?:hundred|thousand)\b)(?:\s+{_NOT_A_PREPOSITION}[\w-]+){{0,2}}?\s+"
                         rf"(?:{_COUNTED})\b", re.IGNORECASE)
_UNITS = (r"%|percent\b|-fold\b|fold\b|points?\b|(?:[mµμn]?g|IU|U)/(?:k?g|[mµμd]?L)\b|[mµμn]?[gML]\b|mmHg\b|kV\b|"
          r"[mcµμn]m\b|ms\b|min\b|h\b|"
          r"days?\b|weeks?\b|months?\b|years?\b")
# a number, not the digits of a name ("18S rRNA", "H1N1", "COVID-19"): no letter or digit may follow it; the
# Lancet's decimal point is a middle dot ("51·6")
_NUMBER = re.compile(rf"(?:[<>≤≥]\s?)?(?<![\w.·])(?<![^\W\d_][-−])[-−]?\d+(?:[.,·]\d+)?(?:\s*(?:{_UNITS})|[x×]\b)?"
                     r"(?![^\W_])")
# Figure and table callouts are no values and are taken out whole: a letter or a range after one figure ("Figure
# 2A-2B", "Supplementary Table 3-4", "Fig. 4a–c"), and lists only after a plural ("Figures 2, 3, and 4", "Tables 1
# and 2"), whose last item is no list item when a unit or count follows it ("Figs. 2 and 3, 40 mg"); "Fig. 2, 3-fold
# higher" keeps its value.
_FIGURE = r"S?\d+[a-zA-Z]?\b"
_A_VALUE_FOLLOWS = rf"(?!\s*(?:[.,]\d|{_UNITS}|(?:\w+\s+)?(?:{_COUNTED})\b))"
# (as publishers print them, capitalised: "accuracy on video 91.2%" keeps its value)
# a supplement's callout in any case after its adjective ("supplementary video 3"); a bare "Video 2" capitalised
# only ("accuracy on video 91.2%" keeps its value)
_SUPPLEMENT = r"(?:additional|supplementary|supporting) (?:files?|materials?|videos?|movies?)|(?-i:Video|Movie)"
_ONE = (rf"(?:\b(?:Fig(?:ure)?|Tab(?:le)?|Eq(?:uation)?|Section|Box|Appendix|Supplementary Note|figure supplement|"
        rf"{_SUPPLEMENT})"
        r"|§)\.?\s*" + _FIGURE + rf"(?:\s*[–-]\s*(?:{_FIGURE}|[a-zA-Z]\b))*")
_MANY = (r"\b(?:Figs|Figures|Tabs|Tables|Eqs|Equations|Sections|Boxes|Appendices|(?:Additional|Supplementary|"
         r"Supporting) (?:files|materials|videos|movies)|(?-i:Videos|Movies))\.?\s*" + _FIGURE +
         rf"(?:(?:\s*[–&-]\s*|\s*,\s*(?:and\s+)?|\s+(?:and|to)\s+)(?:{_FIGURE}{_A_VALUE_FOLLOWS}|[a-zA-Z]\b))*")
# not values: significance thresholds ("p < 0.05"), reference brackets ("[57-59]"), callouts, links and DOIs
# ("doi:10.3390/...", "https://.../11570"), scale bars ("Scale bar = 200 μm") and test statistics ("χ2 = 12.3",
# "F(2, 30) = 4.5"; an effect's own size, "OR = 7.3", "r = 0.4", is a result)
_LINKS = r"\b(?:https?://|www\.)\S+|\bdoi:\s*\S+|\b10\.\d{4,9}/\S+"
_SCALE_BAR = r"\bscale bars?\s*(?:=|:|represents?|indicates?|is|are)?\s*\d+(?:[.,]\d+)?\s*[µμnm]?m\b"
_DEGREES_OF_FREEDOM = r"(?:\(\s*\d+(?:[.,]\d+)?(?:\s*,\s*\d+(?:[.,]\d+)?)?\s*\))?"
_TEST_STATISTIC = rf"(?:\b(?:chi2|chi-square|[FtUHZz]|df)|χ2|χ²){_DEGREES_OF_FREEDOM}\s*=\s*[-−]?\d+(?:[.,]\d+)?"
# reference numbers printed as superscripts, which PDFs glue to the word or the punctuation before them ("of
# delivered SCC.50–52", "by the first author.14,17,18", "with AMI,1–10 and"), and a coding scheme ("1 = yes; 0 = no")
_SUPERSCRIPT_CITATION = rf"(?<=[^\W\d_]{{2}}[.,;:])\d{{1,3}}(?:\s?[,–-]\s?\d{{1,3}})*(?![\d.,]?\d){_A_VALUE_FOLLOWS}"
_CODE = r"\b\d+\s*=\s*(?=[^\W\d_])"
# a microscope's magnification ("original magnification, ×400", "×63 water objective", "100x oil-immersion
# objective") is how it was looked at, not a result; "a magnification of 4.2×" an optical device achieves is one
_MAGNIFICATION = (r"\bmagnifications?\s*(?:of\s*|[,:]\s*)?[×x]\s?\d+(?:[.,]\d+)?|"
                  r"(?:[×x]\s?\d+(?:[.,]\d+)?|\b\d+(?:[.,]\d+)?\s?[×x])(?:[\s-]+[\w-]+){0,2}?[\s-]+(?:objective|lens)\b")
_NOT_VALUES = re.compile(rf"{_LINKS}|{_SCALE_BAR}|{_TEST_STATISTIC}|\b[pP]\s*[<=>≤≥]\s*0?[.·]\d+|\[[\d,\s–-]+\]?|"
                         rf"\b\d+[–-]\d+\.?\]|{_SUPERSCRIPT_CITATION}|{_CODE}|{_MAGNIFICATION}|{_MANY}|{_ONE}",
                         re.IGNORECASE)
# not a result's value: a spread after its mean ("11.43 ± 1.24", "(SD 1.24)") and a group's size ("(n = 5)"),
# which the count kind reads
_SPREAD_OR_SIZE = re.compile(r"(?:±|\+/-)\s*\d+(?:[.,]\d+)?|\b(?:S\.?[DE]\.?M?|SEM)\s*[=:]?\s*\d+(?:[.,]\d+)?|"
                             r"\b[nN]\s*=\s*\d+(?:,\d{3})*")
_YEARISH = re.compile(r"^(?:19|20)\d\d$")
_DATASET = re.compile(r"\b((?:[A-Z][\w.-]*|[A-Z]{2,}\d*)(?:\s+[A-Z0-9][\w.-]*){0,3})\s+(?:data\s?set|corpus|"
                      r"benchmark|suite|collection|treebank|challenge|shared task)s?\b")
# a name after the word: "the benchmark SCIDOCS", "datasets such as MSH and BC5CDR"
_DATASET_AFTER = re.compile(r"\b(?:data\s?sets?|corpus|corpora|benchmarks?)\s*(?:\(|:|,)?\s*(?:such as |called |named "
                            r"|including |like )?((?:[A-Z][a-z]*[A-Z0-9][\w-]*|[A-Z]{2,}[\w-]*)(?:\s+(?:and|,)\s+"
                            r"(?:[A-Z][a-z]*[A-Z0-9][\w-]*|[A-Z]{2,}[\w-]*))*)")
# words that begin a sentence or a caption ("Data collection and refinement statistics"), not a dataset's name
_NOT_NAMES = frozenset({"We", "The", "This", "Our", "In", "A", "An", "These", "Table", "Figure", "Each", "All",
                        "Data", "Training", "Test", "Testing", "Evaluation", "Validation", "Sample", "Study",
                        "Supplementary"})
# metric names that are ordinary words are read in any case; acronyms ("MAP", never "map") only as written
_METRICS = re.compile(r"\b(?:(?i:macro[- ]?F1|micro[- ]?F1|F1|F-score|accuracy|precision|perplexity|nDCG(?:@\d+)?|"
                      r"exact match|Spearman|Pearson|Kendall|Cohen's kappa|kappa|mean squared error|sensitivity|"
                      r"specificity|odds ratio|hazard ratio|relative risk|Cronbach's alpha)|AUC|ROC|BLEU|ROUGE[-\w]*|"
                      r"METEOR|MAP|MRR|EM|MSE|RMSE|MAE|ICC|P@\d+|R@\d+)(?![\w@])")
_DESIGNS = re.compile(r"\b(?:randomi[sz]ed(?: controlled)? (?:clinical )?trial|randomi[sz](?:ed|ation)|"
                      r"double[- ]blind(?:ed)?|placebo[- ]controlled|placebo|open[- ]label|cohort(?: study)?|"
                      r"prospective|retrospective|case[- ]control|"
                      r"cross[- ]sectional|longitudinal|meta[- ]analysis|systematic review|case series|"
                      r"observational|pilot study|survey|in vitro|in vivo|mouse model|animal model|mixed[- ]methods?|"
                      r"qualitative|descriptive study|quasi[- ]experimental|non[- ]?randomi[sz]ed|cross[- ]?over|"
                      r"interrupted time series|diagnostic accuracy study|in silico|simulation study)\b",
                      re.IGNORECASE)
# statistical tests and models, as methods sections name them
_TESTS = re.compile(
    r"\b(?:(?:paired |unpaired |two-sample |independent |student'?s )?t[- ]tests?|(?:one|two|three)[- ]way "
    r"(?:repeated[- ]measures )?anova|(?:repeated[- ]measures )?(?:anovas?|ancovas?|manovas?)|analysis of "
    r"(?:co)?variance|chi[- ]squared?(?: tests?)?|mantel[- ]haenszel(?: method| tests?)?|(?:fixed|random)[- ]effects? "
    r"(?:models?|meta-analys[ie]s)|cochran'?s q(?: tests?)?|q[- ]tests?|i2 statistic|egger'?s(?: regression)? tests?|"
    r"begg'?s tests?|"
    r"χ2 tests?|fisher'?s exact tests?|mann[- ]whitney(?: u)?(?: tests?)?|wilcoxon(?: signed[- ]ranks?| rank[- ]sum)?"
    r"(?: tests?)?|kruskal[- ]wallis(?: tests?)?|friedman(?:'s)? tests?|log[- ]rank tests?|kaplan[- ]meier|"
    r"cox (?:proportional[- ]hazards? )?(?:regression|models?)|(?:multiple |multivariate |multivariable |binary |"
    r"ordinal |multinomial )?logistic regression|(?:multiple |simple )?linear regression|(?:generali[sz]ed )?linear "
    r"mixed(?:[- ]effects?)? models?|mixed[- ]effects? models?|generali[sz]ed estimating equations|poisson regression|"
    r"negative binomial regression|spearman(?:'s)?(?: rank)? correlation|pearson(?:'s)? correlation|tukey(?:'s)?"
    r"(?: hsd)?(?: tests?)?|bonferroni(?: correction)?|dunnett(?:'s)?(?: tests?)?|mcnemar(?:'s)?(?: tests?)?|"
    r"permutation tests?|intraclass correlation(?: coefficients?)?|bland[- ]altman)\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(?:not|no|non|nor|without)\b[\s-]*(?:\w+\s+)?$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{3,}")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def _unique(found: list[str], most: int = 3) -> str | None:
    kept = list(dict.fromkeys(" ".join(f.split()) for f in found))[:most]
    return ", ".join(kept) or None


def _without_leading_words(name: str) -> str:
    """A dataset name without the sentence's or caption's words before it ("The SciDocs" -> "SciDocs"; "Study Data"
    -> "")."""
    words = name.split()
    while words and words[0] in _NOT_NAMES:
        words.pop(0)
    return " ".join(words)


def asks_for_beings(question: str) -> bool:
    """Whether a count column asks how many people or animals (a sample size), not how many things."""
    return bool(re.search(rf"\b(?:{_BEINGS})\b", question, re.IGNORECASE))


def counts_beings(quote: str) -> bool:
    """Whether the quote counts people or animals ("2,462 dementia-free participants"), not only things ("56
    questions"): a sample size is first of all who was studied."""
    return bool(_COUNT_OF_BEINGS.search(_NOT_VALUES.sub(" ", quote)) or _N_EQUALS.search(quote))


def read_value(kind: ValueKind, quote: str) -> str | None:
    """The value of this kind the quote states verbatim (its white space single), or None."""
    quote = _NOT_VALUES.sub(" ", " ".join(quote.split()))
    if kind == "count":  # in the quote's order: "fifteen participants (men, n = 12)"
        found = sorted((m.start(), m.group()) for pattern in (_N_EQUALS, _COUNT, _WORD_COUNT)
                       for m in pattern.finditer(quote))
        return _unique([text for _, text in found], 3)
    if kind == "number":
        quote = _SPREAD_OR_SIZE.sub(" ", quote)
        numbers = [n.strip() for n in _NUMBER.findall(quote) if not _YEARISH.match(n.strip())]
        return _unique(numbers, 3)
    if kind == "dataset":
        return _unique([name for n in _DATASET.findall(quote) + _DATASET_AFTER.findall(quote)
                        if (name := _without_leading_words(n))], 3)
    if kind == "metric":
        return _unique(_METRICS.findall(quote), 3)
    if kind == "test":
        return _unique([m.group() for m in _TESTS.finditer(quote)], 3)
    if kind == "design":  # "this was not a randomized trial" names no design of its own
        return _unique(_most_specific([m.group().lower() for m in _DESIGNS.finditer(quote)
                                       if not _NEGATED.search(quote[max(0, m.start() - 12):m.start()])]), 3)
    return None


def _most_specific(designs: list[str]) -> list[str]:
    """The designs named, without those another names again: a longer one that starts with it ("randomised
    trial" names "randomised" and "randomisation"; "cohort study" names "cohort"), or, for a process noun, the
    adjective of its stem ("randomisation" beside "randomised"). "Non-randomised" and "randomised", "cross-over"
    and "cross-sectional" stay two designs."""
    def named_again(design: str, other: str) -> bool:
        stem = re.sub(r"(?:ed|ation)$", "", design)
        if other == design or not other.startswith(stem):
            return False
        return design.endswith("ation") or (len(other) > len(design) and not other.endswith("ation"))

    return [d for d in designs if not any(named_again(d, other) for other in designs)]


def supported(value: str, quote: str) -> bool:
    """Whether the quote bears the value out: every number of it a number of the quote (not merely digits inside
    one: "1" is not in "10"), and most of its words; a value with neither ("N/A") says nothing the quote states."""
    numbers = {n.replace(",", "") for n in _DIGITS.findall(value)}
    if numbers - {n.replace(",", "") for n in _DIGITS.findall(quote)}:
        return False
    text = quote.lower()
    words = [w.lower() for w in _WORD.findall(value)]
    if not numbers and not words:
        return False
    return not words or sum(w in text for w in words) >= 0.6 * len(words)


_KIND_CUES: tuple[tuple[ValueKind, re.Pattern[str]], ...] = (
    ("count", re.compile(r"\b(?:sample size|how many|number of (?:participants|patients|subjects|people|animals|"
                         r"samples|cases))\b", re.IGNORECASE)),
    ("test", re.compile(r"\b(?:statistical (?:tests?|analys[ie]s|methods?|models?)|significance tests?|(?:which|what) "
                        r"tests? (?:was|were) used|analy[sz]ed (?:with|using|by))\b", re.IGNORECASE)),
    ("dataset", re.compile(r"\b(?:data\s?sets?|corpus|corpora|benchmarks?)\b", re.IGNORECASE)),
    ("metric", re.compile(r"\b(?:metrics?|measured by|evaluation measure)\b", re.IGNORECASE)),
    ("design", re.compile(r"\b(?:study design|design|type of study)\b", re.IGNORECASE)),
    ("number", re.compile(r"\b(?:how much|what (?:percentage|proportion|rate|score|value)|effect size|accuracy|"
                          r"F1|odds ratio|result|performance|prevalence|incidence|mean|median)\b", re.IGNORECASE)),
)


def kind_of(question: str) -> ValueKind:
    """The kind of value a researcher's column question asks for ("Sample size?" a count)."""
    return next((kind for kind, cue in _KIND_CUES if cue.search(question)), "text")
