import assert from 'node:assert/strict';
import { util } from '@node-red/util';
import type { NodeMessage } from 'node-red';
import { resultKeyError } from '../../src/lib/message/result-key';

describe('result key', function () {
  const check = (key: string, msg?: NodeMessage) => resultKeyError(key, (k) => util.normalisePropertyExpression(k, msg));

  it('accepts property paths, nested ones and msg references', function () {
    for (const key of ['emailResult', 'result.mail', 'results[0].mail', 'results["a b"]', 'results[msg.topic]'])
      assert.equal(check(key), undefined, key);
    assert.equal(check('results[msg.topic]', { topic: 'daily' }), undefined);
  });

  it("explains a key Node-RED cannot parse, with the parser's reason and a hint", function () {
    const err = check('a..b[')!;
    assert.equal(err.code, 'ECONFIG');
    assert.equal(err.message, 'Result key "a..b[" is not a valid property: Invalid property expression: unexpected . at position 2');
    assert.equal(err.hint, 'Set Result key to a property path such as emailResult or result.mail.');
    for (const key of ['', 'a b', 'a[', 'a]']) assert.equal(check(key)!.code, 'ECONFIG', JSON.stringify(key));
  });

  it('refuses a msg reference the msg cannot resolve', function () {
    assert.match(check('results[msg.topic]', {})!.message, /^Result key "results\[msg\.topic\]" is not a valid property: /);
  });
});
