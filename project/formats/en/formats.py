"""English dates as the registry writes them: "3 December 2026", not Django's American "Dec. 3, 2026" (clinics
and patients read both orders of month and day; spelt out, neither is mistaken). Other languages keep Django's
own formats ("2026년 12월 3일", "2026年12月3日")."""

DATE_FORMAT = "j F Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
