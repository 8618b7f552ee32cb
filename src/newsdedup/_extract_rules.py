"""Structural boilerplate rules: which elements are navigation, share bars, ads, related lists...

Two cheap CSS passes (evaluated in C by lexbor) find the candidates: landmarks by tag or ARIA
role, then every element with a class, id, hidden state or ``itemprop``. :func:`classify` then checks the
class/id words with one trie-shaped regex (a keyword must start a word, so ``status-publish`` or
``timeshare`` do not count; negated names such as ``non-paywall`` and ``js-*`` hooks are ignored)
and names the rule. Keyword lists are generic
web conventions (WordPress, Drupal, common CMS themes, ad and recommendation vendors), not
per-site rules; publisher rules live in ``_boilerplate``.
"""

from __future__ import annotations

import functools
import re

from selectolax.lexbor import LexborNode

__all__ = ["CANDIDATE_SELECTOR", "LANDMARK_SELECTOR", "ClassCache", "class_weight", "classify"]

_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)

_TAG_RULES: dict[str, str] = {
    "nav": "dom:nav",
    "menu": "dom:nav",
    "header": "dom:header",
    "footer": "dom:footer",
    "aside": "dom:aside",
    "form": "dom:form",
    "figure": "dom:caption",
    "figcaption": "dom:caption",
}

_ROLE_RULES: dict[str, str] = {
    "navigation": "dom:nav",
    "menubar": "dom:nav",
    "menu": "dom:nav",
    "search": "dom:nav",
    "banner": "dom:header",
    "contentinfo": "dom:footer",
    "complementary": "dom:aside",
    "dialog": "dom:cookie",
    "alertdialog": "dom:cookie",
}

# rule -> keywords, matched against the lower-cased class and id values. A keyword must start a
# word (the character before it is not a letter or digit), so "timeshare" or "status-publish" never
# count; "_" inside a keyword stands for an optional separator ("most_read" matches "most-read",
# "most_read" and "mostread"); a trailing "$" means the keyword must also end the word ("ad").
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "dom:share": ("share", "sharing", "social", "sharedaddy", "addthis", "addtoany", "print_button", "toolbar"),
    "dom:related": (
        "related", "recommend", "trending", "most_read", "most_popular", "most_viewed", "most_shared",
        "most_commented", "popular", "more_stories", "more_news", "more_articles", "more_from", "more_on",
        "also_read", "outbrain", "taboola", "teaser_list", "next_article", "next_post", "promo",
        "you_may", "further_reading", "recirc", "up_next", "see_also", "read_next", "breaking_news",
    ),
    "dom:newsletter": ("newsletter", "subscri", "sign_up", "paywall", "regwall", "inline_cta", "optin"),
    "dom:cookie": ("cookie", "consent", "gdpr", "modal", "popup", "interstitial"),
    "dom:ad": (
        "advert", "ad$", "ads$", "adsense", "adsbygoogle", "ad_slot", "ad_unit", "adwrap", "ad_container",
        "adbox", "ad_placeholder", "dfp", "sponsor", "commercial", "googlead",
    ),
    "dom:comments": ("comment", "disqus", "discussion", "respond$"),
    "dom:caption": (
        "caption", "credit", "gallery", "slideshow", "carousel", "lightbox", "video_player", "video_wrap",
        "video_container", "video_embed", "image_credit", "photo_credit",
    ),
    "dom:byline": (
        "byline", "author", "timestamp", "pubdate", "post_meta", "entry_meta", "article_meta",
        "meta_info", "post_date", "entry_date", "article_date", "published_date", "publish_date",
        "date_published", "posted_on", "reading_time", "read_time",
    ),
    "dom:tags": (
        "tags$", "tag_list", "tag_cloud", "topics$", "keywords", "categories", "post_tags", "entry_tags",
        "article_tags",
    ),
    "dom:nav": (
        "breadcrumb", "navbar", "nav$", "navigation", "nav_menu", "nav_links", "main_nav", "site_nav", "menu",
        "skip_link", "skip_to", "pagination", "pager$", "jump_link",
    ),
    "dom:header": ("masthead", "site_header", "page_header", "global_header", "top_bar", "header$"),
    "dom:footer": ("footer", "site_info", "copyright", "disclaimer"),
    "dom:aside": ("sidebar", "side_bar", "widget", "rail$", "right_col", "left_col"),
}  # fmt: skip


def _trie_regex(words: list[str]) -> str:
    """One regex alternation shaped as a trie, so each position costs one character test per level."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: dict[str, dict]) -> str:
        branches = []
        for ch in sorted(node, key=lambda c: (c == "", c)):
            if ch == "":
                continue
            if ch == "_":
                piece = "[^a-z0-9]?"
            elif ch == "$":
                piece = "(?![a-z0-9])"
            else:
                piece = re.escape(ch)
            branches.append(piece + render(node[ch]))
        if "" in node:
            branches.append("")
        if not branches:
            return ""
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return render(trie)


_RULE_OF: dict[str, str] = {
    word.replace("_", "").rstrip("$"): rule for rule, words in _KEYWORDS.items() for word in words
}
# Negated or conditional names ("non-paywall", "has-sidebar", "no-comments") are not the thing.
_MATCHER = re.compile(
    "(?<![a-z0-9])(?<!non-)(?<!no-)(?<!not-)(?<!has-)(?<!with-)(?<!without-)(?<!hide-)"
    + _trie_regex([w for words in _KEYWORDS.values() for w in words])
)
# JavaScript hooks ("js-truncate-related-to-my-size") describe behaviour, not content.
_JS_HOOK = re.compile(r"(?<!\S)js[-_]\S*")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


# Words that start like a keyword but mean something else ("commentary" is an opinion article).
_FALSE_FRIENDS: dict[str, tuple[str, ...]] = {"comment": ("ar",), "share": ("holder",), "credit": ("card",)}


def _rule_for_words(words: str) -> str | None:
    if "js" in words:
        words = _JS_HOOK.sub(" ", words)
    pos = 0
    while True:
        match = _MATCHER.search(words, pos)
        if match is None:
            return None
        key = _NON_ALNUM.sub("", match.group(0))
        if not words.startswith(_FALSE_FRIENDS.get(key, ()), match.end()):
            return _RULE_OF.get(key)
        pos = match.end()


_POSITIVE = (
    "article", "body", "content", "entry", "main", "post", "story", "text", "blog", "news", "prose",
    "richtext", "hentry", "instapaper",
)  # fmt: skip
_NEGATIVE = (
    "comment", "related", "sidebar", "footer", "share", "social", "promo", "widget", "nav", "menu",
    "newsletter", "advert", "sponsor", "popular", "trending", "outbrain", "taboola", "cookie",
    "masthead", "recommend", "teaser", "rail", "most",
)  # fmt: skip


LANDMARK_SELECTOR = ", ".join([*_TAG_RULES, "[role]"])
"""Boilerplate by tag or ARIA role: cheap to find, and usually the biggest chunks."""
CANDIDATE_SELECTOR = '[class], [id], [hidden], [aria-hidden], [style*="none" i], [itemprop]'
"""Elements that *might* be boilerplate by their class/id or hidden state; :func:`classify` decides."""


ClassCache = dict[tuple[str | None, str | None], str | None]
"""Per-page memo of class/id verdicts, keyed by the raw ``(class, id)`` values."""


def classify(
    node: LexborNode, *, include_comments: bool = False, cache: ClassCache | None = None
) -> str | None:
    """The structural rule that makes ``node`` boilerplate, or None.

    ``cache`` memoises the class/id verdict within one page (menus repeat the same classes). This
    runs for every element with a class or id, so the common path is kept short.
    """
    tag = node.tag
    rule = _TAG_RULES.get(tag or "")
    if rule is not None:
        return rule
    attrs = node.attributes
    get = attrs.get
    role = get("role")
    if role:
        rule = _ROLE_RULES.get(role.strip().lower())
        if rule is not None:
            return rule
    if "hidden" in attrs:
        return "dom:hidden"
    aria = get("aria-hidden")
    if aria and aria.lower() == "true":
        return "dom:hidden"
    style = get("style")
    if style and "none" in style and _DISPLAY_NONE.search(style):
        return "dom:hidden"
    prop = get("itemprop")
    if prop and tag in _META_BLOCK_TAGS and prop.strip().lower() in _META_ITEMPROPS:
        return "dom:byline"  # inline ones ("Edited by <span itemprop=author>...") are in sentences
    key = (get("class"), get("id"))
    if cache is None:
        rule = _verdict(*key)
    else:
        rule = cache.get(key, _MISSING)
        if rule is _MISSING:
            rule = cache[key] = _verdict(*key)
    if rule == "dom:comments" and include_comments:
        return None
    return rule


@functools.lru_cache(maxsize=8192)
def _verdict(classes: str | None, id_: str | None) -> str | None:
    """The class/id keyword verdict; remembered across pages, since template class names
    ("container", "row", "entry-content", "site-footer") recur from page to page and site to site."""
    return _rule_for_words(f"{classes or ''} {id_ or ''}".lower())


_MISSING = "<missing>"
# schema.org microdata properties that hold page metadata, not story text (the visible byline
# and date, or invisible copies for crawlers: "2019-11-19T08:57:40+01:00", logo URLs, "500").
_META_ITEMPROPS = frozenset([
    "datepublished", "datemodified", "datecreated", "uploaddate", "author", "creator", "publisher",
    "keywords", "logo", "width", "height", "thumbnailurl", "copyrightholder", "copyrightyear",
])  # fmt: skip
_META_BLOCK_TAGS = frozenset(
    ["div", "p", "section", "ul", "ol", "li", "dl", "dd", "dt", "address", "table", "td"]
)


def class_weight(node: LexborNode) -> float:
    """Readability-style prior from the element's class/id words: + for content, - for widgets."""
    attrs = node.attributes
    return _class_weight(attrs.get("class"), attrs.get("id"))


@functools.lru_cache(maxsize=8192)
def _class_weight(classes: str | None, id_: str | None) -> float:
    words = f"{classes or ''} {id_ or ''}".lower()
    if not words.strip():
        return 0.0
    tokens = [t for t in _NON_ALNUM.split(words) if t]
    weight = 0.0
    if any(t.startswith(_NEGATIVE) for t in tokens):
        weight -= 25.0
    if any(t.startswith(_POSITIVE) for t in tokens):
        weight += 25.0
    return weight
