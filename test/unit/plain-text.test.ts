import assert from 'node:assert/strict';
import { htmlToText, MAX_TEXT_LENGTH, TRUNCATION_NOTE } from '../../src/lib/message/plain-text';

describe('htmlToText', function () {
  it('keeps paragraphs, breaks, list items and link targets, and decodes entities', function () {
    assert.equal(
      htmlToText(
        '<h2>Report</h2><p>A&amp;B &lt;ok&gt;&nbsp;&#8364;</p><ol><li>one</li><li>two</li></ol><p><a href="https://x.example/a">details</a><br>end</p>',
      ),
      'Report\n\nA&B <ok> €\n\n- one\n- two\n\ndetails (https://x.example/a)\nend',
    );
  });
  it('drops scripts and styles and does not repeat a link that is its own text', function () {
    assert.equal(
      htmlToText('<style>p{}</style><script>x()</script><p><a href="https://a.example">https://a.example</a></p>'),
      'https://a.example',
    );
  });
});

describe('htmlToText on hostile input', function () {
  // 200 KB of one unit, as a flow could receive it in msg. The former chain of regexes needed
  // seconds to hours for these (it backtracked over the rest of the input at every `<`).
  const KB200 = 200 * 1024;
  const repeat = (unit: string) => unit.repeat(Math.ceil(KB200 / unit.length));

  it('keeps a `<` that starts no tag as text: 200 KB of `<` come out as they are', function () {
    const html = '<'.repeat(KB200);
    assert.equal(htmlToText(html), html);
  });
  it('drops a tag that never ends and all after it: 200 KB of `<script` give nothing', function () {
    assert.equal(htmlToText('text ' + repeat('<script')), 'text');
  });
  it('drops the rest after a script that is never closed, however many follow', function () {
    assert.equal(htmlToText('<p>text</p>' + repeat('<script>') + '<p>after</p>'), 'text');
  });
  it('gives nothing for 200 KB of `<a href="`, and no target for links never closed', function () {
    assert.equal(htmlToText(repeat('<a href="')), '');
    assert.equal(htmlToText(repeat('<a href="https://x.example/">') + 'end'), 'end');
  });
  it('drops a comment that never ends: 200 KB of `<!--` give nothing; one `-->` ends them all', function () {
    assert.equal(htmlToText('text' + repeat('<!--')), 'text');
    assert.equal(htmlToText(repeat('<!--') + '-->after'), 'after');
  });
  it('keeps the body after 200 KB of `<head>` that are never closed', function () {
    assert.equal(htmlToText(repeat('<head>') + '<p>body</p>'), 'body');
  });
  it('converts large valid HTML in full', function () {
    const n = 4000;
    const blocks: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < n; i++) {
      blocks.push(
        `<h2>Item ${i}</h2>\n<p>Price &lt;${i}&gt; &amp; more&nbsp;&#8364;</p>\n<ul>\n  <li>one</li>\n  <li><a href="https://x.example/${i}">link ${i}</a></li>\n</ul>\n<script>track(${i})</script>\n`,
      );
      // The source's newline before each <li> and the <li> make two.
      expected.push(`Item ${i}\n\nPrice <${i}> & more €\n\n- one\n\n- link ${i} (https://x.example/${i})`);
    }
    const html = `<html><head><title>Report</title><style>p { margin: 0 }</style></head><body>\n${blocks.join('')}</body></html>`;
    assert.ok(html.length > 600 * 1024);
    const text = htmlToText(html);
    assert.equal(text, expected.join('\n\n'));
    assert.ok(text.length <= MAX_TEXT_LENGTH);
  });
});

describe('htmlToText, where markup ends', function () {
  it('keeps a `<` that starts no tag, and drops a tag cut off at the end', function () {
    assert.equal(htmlToText('<p>x < 5 and y<3</p>'), 'x < 5 and y<3');
    assert.equal(htmlToText('<p>Total: 5</p><img src="https://t.example/p'), 'Total: 5');
  });
  it('drops comments whole, Outlook conditional ones included', function () {
    assert.equal(
      htmlToText('<!-- a > b --><!--[if mso]><table><tr><td>Outlook only</td></tr></table><![endif]--><p>c</p><!-->d'),
      'c\n\nd',
    );
  });
  it('keeps what follows a <head> without </head>, which HTML allows', function () {
    assert.equal(htmlToText('<html><head><meta charset="utf-8"><body><p>Hi</p>'), 'Hi');
  });
});

describe('htmlToText size cap', function () {
  it('cuts text over the cap and says so', function () {
    const text = htmlToText('<p>' + 'word '.repeat(300000) + '</p>');
    assert.equal(text, 'word '.repeat(MAX_TEXT_LENGTH / 5).trimEnd() + '\n\n' + TRUNCATION_NOTE);
  });
  it('keeps text of exactly the cap whole, trailing whitespace not counted', function () {
    assert.equal(htmlToText('x'.repeat(MAX_TEXT_LENGTH) + '&nbsp; <br>'), 'x'.repeat(MAX_TEXT_LENGTH));
    assert.equal(htmlToText('x'.repeat(MAX_TEXT_LENGTH + 1)), 'x'.repeat(MAX_TEXT_LENGTH) + '\n\n' + TRUNCATION_NOTE);
  });
  it('does not split a character outside the BMP at the cut', function () {
    assert.equal(htmlToText('a' + '😀'.repeat(MAX_TEXT_LENGTH / 2)), 'a' + '😀'.repeat(MAX_TEXT_LENGTH / 2 - 1) + '\n\n' + TRUNCATION_NOTE);
  });
});
