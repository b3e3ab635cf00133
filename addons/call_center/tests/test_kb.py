"""The knowledge base: articles and their status machine, search (Chinese substrings, every
word, ranked in SQL, wildcards escaped), categories with sub-categories, links to tickets,
the API, the back office, and the public help page (published articles only, no login)."""
import pytest
from sqlalchemy import select
from sqlalchemy import text as sql_text

from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError

from addons.call_center import services as svc
from addons.call_center.models import Article, ArticleCategory, TicketArticle

pytestmark = pytest.mark.addons("call_center")

BASE = "/api/v1/call_center"


def _published(session, title, body="", tags=None, **kw):
    art = svc.save_article(session, title=title, body=body, tags=tags, **kw)
    svc.set_article_status(session, art.id, "published")
    return art


def _titles(session, stmt):
    return [a.title for a in session.execute(stmt).scalars()]


def test_search_chinese_words_ranked_in_sql(session):
    a = _published(session, "如何办理退货", "凭小票在七天内到门店退货。", tags=["退货", "售后"])
    b = _published(session, "会员积分规则", "消费一元积一分；退货时积分扣回。")
    c = _published(session, "营业时间", "每天九点到二十二点。", tags=["门店"])
    draft = svc.save_article(session, title="退货的内部流程", body="草稿")
    session.flush()
    # a substring of Chinese text; title beats text; the draft is not published
    assert _titles(session, svc.search_articles(session, "退货")) == [a.title, b.title]
    assert draft.title in _titles(session, svc.search_articles(session, "退货", published_only=False))
    # every word must occur (AND), anywhere in title, tags or text
    assert _titles(session, svc.search_articles(session, "退货 积分")) == [b.title]
    assert _titles(session, svc.search_articles(session, "门店 九点")) == [c.title]
    # case-insensitive on Latin text; LIKE wildcards in the query are literal
    _published(session, "VIP card lost", "Report it at any store.")
    assert _titles(session, svc.search_articles(session, "vip")) == ["VIP card lost"]
    assert _titles(session, svc.search_articles(session, "%")) == []
    assert _titles(session, svc.search_articles(session, "_")) == []
    # no words: every published article
    assert len(_titles(session, svc.search_articles(session, ""))) == 4


def test_categories_nest_and_filter(session):
    top = ArticleCategory(name="售后")
    session.add(top)
    session.flush()
    sub = ArticleCategory(name="退换货", parent_id=top.id)
    other = ArticleCategory(name="会员")
    session.add_all([sub, other])
    session.flush()
    a = _published(session, "换货流程", category_id=sub.id)
    _published(session, "积分", category_id=other.id)
    assert _titles(session, svc.search_articles(session, None, category_id=top.id)) == [a.title]
    with pytest.raises(BusinessError) as e:
        svc.save_article(session, title="x", category_id=999999)
    assert "category_id" in e.value.errors


def test_status_machine_and_validation(session):
    art = svc.save_article(session, title="草稿", body="…", tags="a, b ,a")
    assert (art.status, art.tags, art.published_at) == ("draft", "a,b", None)
    svc.set_article_status(session, art.id, "reviewed")
    svc.set_article_status(session, art.id, "published")
    assert art.published_at is not None
    with pytest.raises(BusinessError) as e:
        svc.set_article_status(session, art.id, "reviewed")
    assert "status" in e.value.errors
    svc.set_article_status(session, art.id, "draft")
    with pytest.raises(BusinessError) as e:
        svc.save_article(session, title="  ", language="fr")
    assert {"title", "language"} <= set(e.value.errors)


def test_link_article_to_ticket_once(session):
    t = svc.create_ticket(session, subject="退货", ticket_type="inquiry", channel="phone")
    art = _published(session, "如何办理退货")
    first = svc.link_article(session, t.id, art.id)
    assert svc.link_article(session, t.id, art.id).id == first.id
    assert [a.id for a in svc.articles_of_ticket(session, t.id)] == [art.id]
    with pytest.raises(BusinessError):
        svc.link_article(session, t.id, 999999)


def test_screen_pop_suggests_articles_for_open_tickets(session, make, agent):
    c = make.customer(phone="13300133000")
    svc.create_ticket(session, subject="发票 补开", ticket_type="inquiry", channel="phone", customer_id=c.id)
    art = _published(session, "如何补开发票", tags=["发票"])
    _published(session, "营业时间")
    pop = svc.screen_pop(session, agent, "13300133000")
    assert [a["id"] for a in pop["articles"]] == [art.id]


def test_articles_api(api, session, make, agent, supervisor):
    r = api.post(f"{BASE}/articles", user=agent, json={"title": "退款多久到账", "body": "三到五个工作日。",
                                                       "tags": ["退款"]})
    assert r.status_code == 201, r.json
    aid = r.json["id"]
    assert r.json["status"] == "draft" and r.json["tags"] == ["退款"]
    # an agent writes, a supervisor publishes
    assert api.post(f"{BASE}/articles/{aid}/status", user=agent, json={"status": "published"}).status_code == 403
    r = api.post(f"{BASE}/articles/{aid}/status", user=supervisor, json={"status": "published"})
    assert r.status_code == 200 and r.json["published_at"]
    r = api.post(f"{BASE}/articles/{aid}/status", user=supervisor, json={"status": "reviewed"})
    assert r.status_code == 422 and "status" in r.json["errors"]["json"]
    r = api.patch(f"{BASE}/articles/{aid}", user=agent, json={"body": "三到七个工作日。"})
    assert r.status_code == 200 and r.json["status"] == "published"
    assert [a["id"] for a in api.get(f"{BASE}/articles?q=到账", user=agent).json] == [aid]
    assert api.get(f"{BASE}/articles?q=发票", user=agent).json == []
    r = api.post(f"{BASE}/articles", user=agent, json={"title": "", "language": "fr", "category_id": 999999})
    assert r.status_code == 422 and {"title", "language"} <= set(r.json["errors"]["json"])
    r = api.post(f"{BASE}/articles", user=agent, json={"title": "x", "category_id": 999999})
    assert r.status_code == 422 and "category_id" in r.json["errors"]["json"]
    t = svc.create_ticket(session, subject="退款", ticket_type="inquiry", channel="phone")
    session.commit()
    r = api.post(f"{BASE}/tickets/{t.id}/articles", user=agent, json={"article_id": aid})
    assert r.status_code == 201 and [a["id"] for a in r.json] == [aid]
    assert [a["id"] for a in api.get(f"{BASE}/tickets/{t.id}/articles", user=agent).json] == [aid]
    r = api.post(f"{BASE}/tickets/{t.id}/articles", user=agent, json={"article_id": 999999})
    assert r.status_code == 422 and "article_id" in str(r.json)
    assert api.get(f"{BASE}/articles").status_code == 401


def test_public_help_page_shows_only_published_articles_and_no_customer_data(api, session, make):
    c = make.customer(name="赵秘密", phone="13200132000")
    pub = _published(session, "如何办理退货", "凭小票到门店。")
    draft = svc.save_article(session, title="内部草稿退货流程", body="仅供客服")
    reviewed = svc.save_article(session, title="已审核未发布退货", body="x")
    svc.set_article_status(session, reviewed.id, "reviewed")
    svc.create_ticket(session, subject="退货投诉机密", ticket_type="complaint", channel="phone", customer_id=c.id)
    session.commit()
    r = api.get("/help/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "如何办理退货" in html
    for secret in ("内部草稿", "已审核未发布", "赵秘密", "13200132000", "退货投诉机密"):
        assert secret not in html
    html = api.get("/help/?q=退货").get_data(as_text=True)
    assert "如何办理退货" in html and "内部草稿" not in html and "退货投诉机密" not in html
    assert "help-empty" in api.get("/help/?q=不存在的词").get_data(as_text=True)
    r = api.get(f"/help/{pub.id}")
    assert r.status_code == 200 and "凭小票到门店。" in r.get_data(as_text=True)
    assert api.get(f"/help/{draft.id}").status_code == 404
    assert api.get(f"/help/{reviewed.id}").status_code == 404


def test_back_office_publishes_and_links(session, make):
    from core.admin.testing import csrf_token, login
    from core.api.testing import build_app
    from core.runtime import runtime_of
    from core.security.permissions import sync_roles

    rt = runtime_of(session)
    sync_roles(session, rt.registry)
    boss = make.user(roles=("cc_supervisor",))
    art = svc.save_article(session, title="后台发布", body="…")
    t = svc.create_ticket(session, subject="问", ticket_type="inquiry", channel="phone")
    session.commit()
    client = login(build_app(rt), boss)
    for endpoint in ("call_center_article", "call_center_article_category", "call_center_ticket_article"):
        assert client.get(f"/admin/{endpoint}/").status_code == 200, endpoint
    token = csrf_token(client, "/admin/call_center_article/")
    r = client.post("/admin/call_center_article/action/", data={"csrf_token": token, "action": "publish",
                                                                 "rowid": [str(art.id)]})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Article, art.id).status == "published"
    token = csrf_token(client, "/admin/call_center_ticket_article/new/")
    r = client.post("/admin/call_center_ticket_article/new/", data={"csrf_token": token, "ticket": str(t.id),
                                                                     "article": str(art.id)})
    assert r.status_code == 302
    assert session.execute(select(TicketArticle.article_id).where(TicketArticle.ticket_id == t.id)).scalar() == art.id


def test_search_tolerates_typos_and_finds_names_typed_in_pinyin(session):
    card = _published(session, "储值卡挂失", "带身份证到门店办理。", tags=["储值卡"])
    wfj = _published(session, "王府井店营业时间", "每天十点到二十二点。")
    _published(session, "停车说明", "地下车库两小时免费。")
    wifi = _published(session, "Free Wi-Fi in every store", "Ask a clerk for the password.")
    # one character mistyped: nothing has every word, the forgiving search finds the card
    assert _titles(session, svc.search_articles(session, "储直卡"))[0] == card.title
    # a store's name in pinyin, whole, mistyped, or by its initials
    assert _titles(session, svc.search_articles(session, "wangfujing")) == [wfj.title]
    assert _titles(session, svc.search_articles(session, "wangfujin"))[0] == wfj.title
    assert _titles(session, svc.search_articles(session, "wfj")) == [wfj.title]
    # Latin words: substrings of three letters and more, any case, full-width letters too
    assert _titles(session, svc.search_articles(session, "WI-FI")) == [wifi.title]
    assert _titles(session, svc.search_articles(session, "ｓｔｏｒｅ")) == [wifi.title]
    assert _titles(session, svc.search_articles(session, "passwrd"))[:1] == []  # the text is not searched loosely
    # an edit is searched at once (the index follows every write)
    svc.save_article(session, article_id=wfj.id, title="王府井店节假日营业时间")
    assert _titles(session, svc.search_articles(session, "节假日")) == ["王府井店节假日营业时间"]
    assert _titles(session, svc.search_articles(session, "营业时间 十点")) == ["王府井店节假日营业时间"]


def test_search_is_served_by_the_index(session):
    """The query plan reads the full-text index (FTS5 / the GIN index), never every article."""
    for i in range(30):
        _published(session, f"会员积分规则 {i}", "消费一元积一分。")
    stmt = svc.search_articles(session, "会员 积分")
    compiled = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table: ask for the plan at scale
        plan = "\n".join(r[0] for r in conn.execute(sql_text("EXPLAIN " + compiled)))
        assert "ix_call_center_article_search" in plan, plan
    else:
        plan = "\n".join(str(r[-1]) for r in conn.execute(sql_text("EXPLAIN QUERY PLAN " + compiled)))
        assert "VIRTUAL TABLE INDEX" in plan and "call_center_article_fts" in plan, plan
        assert "SCAN call_center_article\n" not in plan + "\n", plan
    assert len(_titles(session, stmt)) == 20


def test_index_words_stay_out_of_the_audit_log(session):
    """The kernel's ``__audit_exclude__``: derived columns are in no audit entry."""
    from core.models import AuditLog

    art = svc.save_article(session, title="发票补开", body="凭小票办理。")
    svc.save_article(session, article_id=art.id, title="发票补开流程")
    rows = session.execute(select(AuditLog.action, AuditLog.changes).where(AuditLog.model == "call_center_article")
                           .order_by(AuditLog.id)).all()
    assert [a for a, _c in rows] == ["create", "update"]
    assert "title" in rows[0][1] and "title" in rows[1][1]
    assert not any(k in c for _a, c in rows for k in ("search_head", "search_body")), rows


def test_related_articles_go_both_ways_and_are_set_as_a_whole(session):
    a = _published(session, "如何办理退货", "凭小票。")
    b = _published(session, "退款多久到账", "三到七个工作日。")
    c = svc.save_article(session, title="退货草稿", body="x")
    assert [r.title for r in svc.relate_articles(session, a.id, [b.id, c.id])] == ["退款多久到账", "退货草稿"]
    # both ways: b and c list a back, one row per pair (the smaller id first)
    assert [r.id for r in svc.related_articles(session, b.id)] == [a.id]
    assert [r.id for r in svc.related_articles(session, c.id)] == [a.id]
    from addons.call_center.models import ArticleRelation

    pairs = session.execute(select(ArticleRelation.article_id, ArticleRelation.related_id)).all()
    assert sorted(pairs) == sorted([(min(a.id, b.id), max(a.id, b.id)), (min(a.id, c.id), max(a.id, c.id))])
    # setting from the other side replaces that side's list only; again: no change
    svc.relate_articles(session, c.id, [])
    assert [r.id for r in svc.related_articles(session, a.id)] == [b.id]
    svc.relate_articles(session, b.id, [a.id])
    assert len(session.execute(select(ArticleRelation)).all()) == 1
    assert [r.id for r in svc.related_articles(session, a.id, published_only=True)] == [b.id]
    for bad in ([a.id], [999999], list(range(1, 30))):
        with pytest.raises(BusinessError) as exc:
            svc.relate_articles(session, a.id, bad)
        assert "related_ids" in exc.value.errors


def test_related_articles_api_and_public_page(api, session, agent):
    a = _published(session, "如何办理退货", "凭小票。")
    b = _published(session, "退款多久到账", "三到七个工作日。")
    draft = svc.save_article(session, title="退货内部草稿", body="x")
    session.commit()
    r = api.request("PUT", f"{BASE}/articles/{a.id}/related", user=agent, json={"related_ids": [b.id, draft.id]})
    assert r.status_code == 200, r.json
    assert [x["id"] for x in r.json] == [b.id, draft.id]
    assert [x["id"] for x in api.get(f"{BASE}/articles/{b.id}/related", user=agent).json] == [a.id]
    r = api.request("PUT", f"{BASE}/articles/{a.id}/related", user=agent, json={"related_ids": [999999]})
    assert r.status_code == 422 and "related_ids" in str(r.json)
    r = api.request("PUT", f"{BASE}/articles/{a.id}/related", user=agent, json={"related_ids": [a.id]})
    assert r.status_code == 422 and "related_ids" in str(r.json)
    assert api.request("PUT", f"{BASE}/articles/999999/related", user=agent, json={"related_ids": []}).status_code == 404
    # the public page lists the published related articles only
    html = api.get(f"/help/{a.id}").get_data(as_text=True)
    assert 'id="help-related"' in html and "退款多久到账" in html and "退货内部草稿" not in html
    html = api.get(f"/help/{b.id}?lang=en").get_data(as_text=True)
    assert 'id="help-related"' in html and "如何办理退货" in html


def test_back_office_article_form_sets_related_articles(session, make):
    from core.admin.testing import csrf_token, login
    from core.api.testing import build_app
    from core.runtime import runtime_of
    from core.security.permissions import sync_roles

    rt = runtime_of(session)
    sync_roles(session, rt.registry)
    boss = make.user(roles=("cc_supervisor",))
    a = svc.save_article(session, title="甲文章", body="…")
    b = svc.save_article(session, title="乙文章", body="…")
    session.commit()
    client = login(build_app(rt), boss)
    form = client.get(f"/admin/call_center_article/edit/?id={a.id}").get_data(as_text=True)
    assert 'name="related"' in form
    token = csrf_token(client, f"/admin/call_center_article/edit/?id={a.id}")
    r = client.post(f"/admin/call_center_article/edit/?id={a.id}", data={
        "csrf_token": token, "title": "甲文章", "body": "…", "language": "zh_Hans", "related": [str(b.id)]})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    session.expire_all()
    assert [x.id for x in svc.related_articles(session, b.id)] == [a.id]
    details = client.get(f"/admin/call_center_article/details/?id={b.id}").get_data(as_text=True)
    assert "甲文章" in details
    # the prefilled form shows it; a new article relates at creation
    import re

    form = client.get(f"/admin/call_center_article/edit/?id={a.id}").get_data(as_text=True)
    chosen = re.findall(r'<option[^>]*selected[^>]*value="(\d+)"|<option[^>]*value="(\d+)"[^>]*selected', form)
    assert str(b.id) in {x or y for x, y in chosen}
    token = csrf_token(client, "/admin/call_center_article/new/")
    r = client.post("/admin/call_center_article/new/", data={
        "csrf_token": token, "title": "丙文章", "body": "…", "language": "zh_Hans", "related": [str(a.id)]})
    assert r.status_code == 302
    session.expire_all()
    c = session.execute(select(Article).where(Article.title == "丙文章")).scalar_one()
    assert [x.id for x in svc.related_articles(session, c.id)] == [a.id]


def test_a_draft_stays_its_authors_to_edit_until_it_is_reviewed(api, session, make, supervisor):
    """Articles are the chain's shared data (write check rule 4): a store agent may write a
    draft and edit it until it is reviewed (``__scope_author__``); another store agent may
    not touch it (403), nor may its author once it is reviewed; reviewing needs the chain
    permission."""
    from core.security.permissions import sync_roles
    from core.runtime import runtime_of

    sync_roles(session, runtime_of(session).registry)
    store, other_store = make.store(), make.store()
    author = make.user(roles=("agent",), scope_kind="store", scope_ref_id=store.id)
    colleague = make.user(roles=("agent",), scope_kind="store", scope_ref_id=store.id)
    elsewhere = make.user(roles=("agent",), scope_kind="store", scope_ref_id=other_store.id)
    session.commit()
    r = api.post(f"{BASE}/articles", user=author, json={"title": "退款多久到账", "body": "三到五个工作日。"})
    assert r.status_code == 201, r.json
    aid = r.json["id"]
    assert r.json["author_id"] == author.id
    r = api.patch(f"{BASE}/articles/{aid}", user=author, json={"body": "三到七个工作日。"})
    assert r.status_code == 200, r.json
    assert r.json["body"] == "三到七个工作日。" and r.json["status"] == "draft"
    for other in (colleague, elsewhere):
        r = api.patch(f"{BASE}/articles/{aid}", user=other, json={"body": "改掉"})
        assert r.status_code == 403, (other.username, r.json)
        assert "author" in str(r.json)
    # nobody takes it over by naming themselves its author, nor writes a draft in another's name
    with runtime_of(session).session(user=colleague, scoped=True) as s:
        s.get(Article, aid).author_id = colleague.id
        with pytest.raises(BusinessError):
            s.flush()
        s.rollback()
        s.add(Article(title="冒名", body="", author_id=author.id))
        with pytest.raises(BusinessError) as exc:
            s.flush()
        assert "author_id" in exc.value.errors
    # a store-limited author cannot review it (chain permission), a supervisor of the chain can
    with runtime_of(session).session(user=author, scoped=True) as s:
        with pytest.raises(BusinessError) as exc:
            svc.set_article_status(s, aid, "reviewed")
        assert "whole chain" in str(exc.value.errors["_"][0])
    r = api.post(f"{BASE}/articles/{aid}/status", user=supervisor, json={"status": "reviewed"})
    assert r.status_code == 200, r.json
    r = api.patch(f"{BASE}/articles/{aid}", user=author, json={"body": "审核后改"})
    assert r.status_code in (403, 422), r.json
    session.expire_all()
    assert session.get(Article, aid).body == "三到七个工作日。"


def test_back_office_author_edits_own_draft_only(session, make):
    from core.admin.testing import csrf_token, login
    from core.api.testing import build_app
    from core.runtime import runtime_of
    from core.security.permissions import sync_roles

    rt = runtime_of(session)
    sync_roles(session, rt.registry)
    store = make.store()
    author = make.user(roles=("agent",), scope_kind="store", scope_ref_id=store.id)
    colleague = make.user(roles=("agent",), scope_kind="store", scope_ref_id=store.id)
    session.commit()
    app = build_app(rt)
    client = login(app, author)
    token = csrf_token(client, "/admin/call_center_article/new/")
    r = client.post("/admin/call_center_article/new/", data={
        "csrf_token": token, "title": "会员卡补办", "body": "带身份证。", "language": "zh_Hans"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    art = session.execute(select(Article).where(Article.title == "会员卡补办")).scalar_one()
    assert art.author_id == author.id
    token = csrf_token(client, f"/admin/call_center_article/edit/?id={art.id}")
    r = client.post(f"/admin/call_center_article/edit/?id={art.id}", data={
        "csrf_token": token, "title": "会员卡补办", "body": "带身份证到门店。", "language": "zh_Hans"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    other = login(app, colleague)
    token = csrf_token(other, f"/admin/call_center_article/edit/?id={art.id}")
    r = other.post(f"/admin/call_center_article/edit/?id={art.id}", data={
        "csrf_token": token, "title": "会员卡补办", "body": "不用带。", "language": "zh_Hans"})
    assert r.status_code == 200 and "Only its author may change a draft" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Article, art.id).body == "带身份证到门店。"


def test_a_page_is_the_same_slice_of_the_whole_ranking(session):
    """A page (``limit``/``offset``) of a search is that slice of the full ranking, whether
    the articles whose title holds every word fill it (the short path that reads only the
    title index) or not (the whole ranked search), and for a typo (the forgiving search)."""
    for i in range(5):
        _published(session, f"退货须知 {i}", "门店说明。")
    for i in range(4):
        _published(session, f"门店说明 {i}", "如何退货：凭小票。")
    _published(session, "发票说明", "退货时发票一并退回。", tags=["退货"])
    session.flush()
    for q in ("退货", "退货 发票", "退货 门店", "储直卡", "退化"):
        everything = _titles(session, svc.search_articles(session, q, limit=None))
        for limit, offset in ((3, 0), (5, 0), (4, 3), (20, 0), (2, 8)):
            page = _titles(session, svc.search_articles(session, q, limit=limit, offset=offset))
            assert page == everything[offset:offset + limit], (q, limit, offset, page, everything)
    # the title or tags hold the word: those first, newest first (the tag counts as the title)
    assert _titles(session, svc.search_articles(session, "退货", limit=3)) == ["发票说明", "退货须知 4", "退货须知 3"]
    assert len(_titles(session, svc.search_articles(session, "退货", limit=None))) == 10


def test_migrated_database_keeps_the_full_text_index(banyan_databases):
    """The migrations (the article's author among them, which copies the table on SQLite)
    leave the search index working: a new article is found, an edited one follows its text."""
    from core.addons.installer import init_db, install
    from core.config import load_config
    from core.db import transaction
    from core.runtime import Runtime

    cfg = load_config(overrides={"database": {"url": banyan_databases.new_url()},
                                 "instance": {"path": banyan_databases.tmp.name},
                                 "jobs": {"immediate": True, "backend": "memory"}, "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt)
    try:
        install(rt, ["call_center"])
        with rt.session() as s, transaction(s):
            art = _published(s, "储值卡挂失", "到门店办理。")
        with rt.session() as s:
            assert _titles(s, svc.search_articles(s, "挂失")) == ["储值卡挂失"]
            assert _titles(s, svc.search_articles(s, "门店")) == ["储值卡挂失"]
        with rt.session() as s, transaction(s):
            svc.save_article(s, article_id=art.id, body="电话办理。")
        with rt.session() as s:
            assert _titles(s, svc.search_articles(s, "门店")) == []
            assert _titles(s, svc.search_articles(s, "电话")) == ["储值卡挂失"]
    finally:
        rt.dispose()


def test_store_agent_cannot_relate_a_new_draft_to_a_chain_article_in_the_back_office(session, make):
    """The back office's "Related articles" goes through the same write check as the API
    (rule 5): a store agent's new draft naming HQ's published article as related is refused
    on the form; neither the draft's relation nor the draft is saved."""
    from core.admin.testing import csrf_token, login
    from core.api.testing import build_app
    from core.runtime import runtime_of
    from core.security.permissions import sync_roles

    rt = runtime_of(session)
    sync_roles(session, rt.registry)
    store = make.store()
    agent = make.user(roles=("agent",), scope_kind="store", scope_ref_id=store.id)
    policy = svc.save_article(session, title="HQ returns policy", body="30 days")
    svc.set_article_status(session, policy.id, "published")
    session.commit()
    client = login(build_app(rt), agent)
    token = csrf_token(client, "/admin/call_center_article/new/")
    r = client.post("/admin/call_center_article/new/", data={
        "csrf_token": token, "title": "Shop: no returns", "body": "…", "language": "en", "related": [str(policy.id)]})
    assert r.status_code == 200 and "whole chain" in r.get_data(as_text=True)
    session.expire_all()
    assert svc.related_articles(session, policy.id) == []
    assert session.execute(select(Article).where(Article.title == "Shop: no returns")).scalar() is None


def test_removing_a_related_article_follows_the_rule_of_adding_it(api, session, make):
    """Related articles are part of both articles (rule 5): a store-limited author adds and
    removes a relation between their own drafts, through the API and the article form; with
    HQ's published article, or once their draft is reviewed, neither adding nor removing
    passes; the relation stays as it was."""
    from core.admin.testing import csrf_token, login
    from core.api.testing import build_app
    from core.runtime import runtime_of
    from core.security.permissions import sync_roles

    rt = runtime_of(session)
    sync_roles(session, rt.registry)
    store = make.store()
    author = make.user(roles=("agent",), scope_kind="store", scope_ref_id=store.id)
    supervisor = make.user(roles=("cc_supervisor",))
    policy = _published(session, "HQ returns policy", "30 days")
    session.commit()
    a, b, c = (api.post(f"{BASE}/articles", user=author, json={"title": t, "body": "…"}).json["id"]
               for t in ("Shop returns", "Shop refunds", "Shop exchanges"))

    def related(aid):
        session.expire_all()
        return sorted(x.id for x in svc.related_articles(session, aid))

    # API: own drafts, added then removed
    assert api.request("PUT", f"{BASE}/articles/{a}/related", user=author, json={"related_ids": [b, c]}).status_code == 200
    assert related(a) == [b, c]
    r = api.request("PUT", f"{BASE}/articles/{b}/related", user=author, json={"related_ids": []})
    assert r.status_code == 200 and r.json == [], r.json
    assert related(a) == [c]
    # back office: the form's "Related articles", added then removed
    client = login(build_app(rt), author)
    edit = f"/admin/call_center_article/edit/?id={a}"
    r = client.post(edit, data={"csrf_token": csrf_token(client, edit), "title": "Shop returns", "body": "…",
                                "language": "zh_Hans", "related": [str(b), str(c)]})
    assert r.status_code == 302 and related(a) == [b, c]
    r = client.post(edit, data={"csrf_token": csrf_token(client, edit), "title": "Shop returns", "body": "… 7 days",
                                "language": "zh_Hans", "related": [str(c)]})
    assert r.status_code == 302 and related(a) == [c]
    # HQ's published article: neither way for the author, on either surface
    r = api.request("PUT", f"{BASE}/articles/{a}/related", user=author, json={"related_ids": [c, policy.id]})
    assert r.status_code == 422 and "whole chain" in str(r.json)
    assert api.request("PUT", f"{BASE}/articles/{a}/related", user=supervisor,
                       json={"related_ids": [c, policy.id]}).status_code == 200
    r = api.request("PUT", f"{BASE}/articles/{a}/related", user=author, json={"related_ids": [c]})
    assert r.status_code == 422 and "whole chain" in str(r.json)
    r = client.post(edit, data={"csrf_token": csrf_token(client, edit), "title": "Shop returns", "body": "…",
                                "language": "zh_Hans", "related": [str(c)]})
    assert r.status_code == 200 and "whole chain" in r.get_data(as_text=True)
    assert related(a) == sorted([c, policy.id])
    # the author's other draft reviewed: its relation is no longer theirs to remove, nor to add
    assert api.post(f"{BASE}/articles/{c}/status", user=supervisor, json={"status": "reviewed"}).status_code == 200
    r = api.request("PUT", f"{BASE}/articles/{a}/related", user=author, json={"related_ids": [policy.id]})
    assert r.status_code == 422 and related(a) == sorted([c, policy.id])
    assert api.request("PUT", f"{BASE}/articles/{b}/related", user=author,
                       json={"related_ids": [c]}).status_code == 422
    assert related(b) == []
