"""The demo sites' registry consent document, in each shipped language: synthetic wording written for the demo
(marked as such on the page), never a real site's consent form. A real site loads its own, approved by its ethics
committee, in the admin (Consent documents)."""

from __future__ import annotations

from collections.abc import Iterable

from registry.models import ConsentDocument, Site

VERSION = "demo-1"

DOCUMENTS = {
    "en": (
        "Taking part in the clinic's outcome registry",
        "The clinic keeps a registry of how patients do after regenerative treatment of a joint or the spine, so "
        "that future patients and their doctors know what to expect.\n\n"
        "If you take part, we send you a few short questionnaires before and after your treatment (at 3, 6, 12 "
        "and 24 months), by email or text message. Each takes about ten minutes. You may skip any question.\n\n"
        "Researchers may study the answers without your name, contact details or exact dates. You may also take "
        "part in follow-up only, without research use.\n\n"
        "Taking part is your choice. Your treatment is the same whether you take part or not. You may leave at "
        "any time with the link in every message, or by telling the clinic.",
    ),
    "ko": (
        "병원 치료 결과 레지스트리 참여 안내",
        "저희 병원은 관절이나 척추의 재생 치료 후 환자분들의 경과를 기록하는 레지스트리를 운영합니다. 앞으로 치료받을 "
        "환자분들과 의사가 치료 결과를 미리 알 수 있도록 하기 위해서입니다.\n\n"
        "참여하시면 치료 전과 치료 후(3, 6, 12, 24개월)에 짧은 설문을 이메일이나 문자 메시지로 보내 드립니다. 설문마다 "
        "약 10분이 걸리며, 원하지 않는 질문은 답하지 않으셔도 됩니다.\n\n"
        "연구자는 이름, 연락처, 정확한 날짜 없이 답변을 연구할 수 있습니다. 연구 활용 없이 추적 관찰에만 참여하실 수도 "
        "있습니다.\n\n"
        "참여는 자유롭게 결정하실 수 있으며, 참여 여부와 관계없이 치료는 똑같습니다. 모든 메시지에 있는 링크나 병원에 "
        "말씀하시는 것으로 언제든지 참여를 철회하실 수 있습니다.",
    ),
    "ja": (
        "クリニックの治療成績レジストリへのご参加について",
        "当クリニックでは、関節や脊椎の再生医療を受けた患者さんのその後の経過を記録するレジストリを運営しています。"
        "これから治療を受ける患者さんと医師が、治療の結果を前もって知ることができるようにするためです。\n\n"
        "ご参加いただくと、治療の前と治療後（3、6、12、24か月）に短いアンケートをメールまたはショートメッセージで"
        "お送りします。1回あたり約10分で、答えたくない質問には答えなくてもかまいません。\n\n"
        "研究者は、お名前・ご連絡先・正確な日付を除いた形でご回答を研究に用いることがあります。研究への利用なしで、"
        "経過観察のみにご参加いただくこともできます。\n\n"
        "ご参加は自由です。ご参加いただくかどうかにかかわらず、治療は変わりません。すべてのメッセージにあるリンク、"
        "またはクリニックへのお申し出により、いつでも参加をやめることができます。",
    ),
    "zh-hans": (
        "参加诊所治疗效果登记的说明",
        "本诊所设有一项登记，记录患者在关节或脊柱再生治疗后的恢复情况，以便今后的患者和医生了解可以期待的效果。\n\n"
        "如果您参加，我们会在治疗前和治疗后（3、6、12和24个月）通过邮件或短信给您发送几份简短的问卷，每次约十分钟。"
        "您可以跳过任何问题。\n\n"
        "研究人员可能会在不含您的姓名、联系方式和确切日期的情况下研究这些回答。您也可以只参加随访，而不用于研究。\n\n"
        "是否参加由您决定。无论是否参加，您的治疗都不会改变。您可以随时通过每条信息中的链接或告知诊所退出。",
    ),
    "zh-hant": (
        "參加診所治療效果登錄的說明",
        "本診所設有一項登錄，記錄患者在關節或脊椎再生治療後的恢復情況，以便今後的患者和醫師了解可以期待的效果。\n\n"
        "如果您參加，我們會在治療前和治療後（3、6、12和24個月）透過電子郵件或簡訊給您傳送幾份簡短的問卷，每次約十分鐘。"
        "您可以略過任何問題。\n\n"
        "研究人員可能會在不含您的姓名、聯絡方式和確切日期的情況下研究這些回答。您也可以只參加隨訪，而不用於研究。\n\n"
        "是否參加由您決定。無論是否參加，您的治療都不會改變。您可以隨時透過每則訊息中的連結或告知診所退出。",
    ),
}


def demo_consent_load(*, sites: Iterable[Site]) -> int:
    """Each demo site's consent document in every shipped language (once: a second load changes nothing)."""
    created = 0
    for site in sites:
        for language, (title, text) in DOCUMENTS.items():
            document, made = ConsentDocument.objects.get_or_create(
                site=site,
                language=language,
                version=VERSION,
                defaults={"title": title, "text": text, "demo": True, "active": True},
            )
            created += made
    return created
