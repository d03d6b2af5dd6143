import assert from 'node:assert/strict';
import { Slots } from '../../src/lib/transports/slots';

describe('slots', function () {
  it('lets at most size() through, first come first served, and follows a size that shrinks', async function () {
    let size = 2;
    const slots = new Slots(() => size);
    const order: number[] = [];
    await slots.acquire();
    await slots.acquire();
    const waiting = [1, 2, 3].map((n) => slots.acquire().then(() => order.push(n)));
    size = 1;
    slots.release(); // 1 in use: at the new size, nobody may start yet
    await Promise.resolve();
    assert.deepEqual(order, []);
    slots.release(); // 0 in use: one starts
    await waiting[0];
    assert.deepEqual(order, [1]);
    slots.release();
    await waiting[1];
    slots.release();
    await waiting[2];
    assert.deepEqual(order, [1, 2, 3]);
  });
});
