import escapeHtml from 'escape-html';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface EmailContent {
  subject: string;
  /** The recipient's name, for the greeting. */
  name: string;
  /** Plain sentences; every value in them is escaped in the HTML part. */
  paragraphs: string[];
  action?: { label: string; url: string };
  /** A closing line in small print (why the email was sent, what to do if unexpected). */
  footer?: string;
}

const PRODUCT = 'minispod';

/**
 * Every email's subject, plain text and HTML from one description. Text is never treated as
 * markup: a user named `<script>` is greeted by that name, in text.
 */
export function renderEmail(content: EmailContent): RenderedEmail {
  const { subject, name, paragraphs, action, footer } = content;
  const text = [
    `Hello ${name},`,
    '',
    ...paragraphs.flatMap((p) => [p, '']),
    ...(action ? [`${action.label}: ${action.url}`, ''] : []),
    ...(footer ? [footer, ''] : []),
    `— ${PRODUCT}`,
  ].join('\n');

  const e = escapeHtml;
  const button = action
    ? `<p style="margin:24px 0"><a href="${e(action.url)}" style="background:#2563eb;color:#ffffff;padding:10px 18px;border-radius:6px;text-decoration:none;display:inline-block">${e(action.label)}</a></p>
<p style="font-size:13px;color:#555555">If the button does not work, open this address: <a href="${e(action.url)}">${e(action.url)}</a></p>`
    : '';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(subject)}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f5;font-family:Arial,Helvetica,sans-serif;color:#1f2937">
<div style="max-width:560px;margin:0 auto;background:#ffffff;padding:24px;border-radius:8px">
<p>Hello ${e(name)},</p>
${paragraphs.map((p) => `<p>${e(p)}</p>`).join('\n')}
${button}
${footer ? `<p style="font-size:13px;color:#555555">${e(footer)}</p>` : ''}
<p style="color:#555555">— ${PRODUCT}</p>
</div></body></html>
`;
  return { subject, text, html };
}
