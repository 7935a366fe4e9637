"""Makes the PDF fixtures of tests/extract.rs with real tools (see README.md).

python3 -m venv venv && venv/bin/pip install fpdf2 pypdf cryptography
apt-get install fonts-wqy-microhei
venv/bin/python make_pdfs.py
"""
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

pdf = FPDF()
pdf.add_page()
# An embedded, subset TrueType font: fpdf2 writes it as Type0/Identity-H with a ToUnicode CMap.
pdf.add_font("wqy", fname="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
pdf.set_font("wqy", size=12)
pdf.cell(text="客户名单 Customer list")
pdf.ln()
pdf.cell(text="身份证号码：110101199003078515")
pdf.ln()
pdf.cell(text="张三  13800138000")
pdf.output("chinese-fpdf2.pdf")

for name, user in [("chinese-owner-only.pdf", ""), ("chinese-user-password.pdf", "secret")]:
    writer = PdfWriter(clone_from=PdfReader("chinese-fpdf2.pdf"))
    writer.encrypt(user_password=user, owner_password="owner-secret", algorithm="AES-128")
    with open(name, "wb") as f:
        writer.write(f)
